// scwriter.cpp — a heatmap overlay as an RGB Secondary Capture Image in the source's study (see dxdcm.h).
#include "dxdcm.h"

#include <cstdio>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/ofstd/ofdatime.h"

namespace {

struct Failure {
    std::string reason;
};

void check(OFCondition c, const char *what) {
    if (c.bad()) throw Failure{std::string(what) + ": " + c.text()};
}

/// Copies an attribute from the source (empty when it has none: the type 2 attributes of the
/// patient and study modules must be present).
void copy(DcmItem *from, DcmItem *to, const DcmTagKey &tag) {
    OFString value;
    if (from->findAndGetOFStringArray(tag, value).bad()) value = "";
    check(to->putAndInsertString(tag, value.c_str()), "copying an attribute");
}

}  // namespace

int dx_write_secondary_capture(const dx_sc_image *image, char *err, size_t errlen) {
    dx_init();
    try {
        if (image->width < 1 || image->height < 1 || image->width > 65535 || image->height > 65535)
            throw Failure{"image size out of range"};
        DcmFileFormat source;
        check(source.loadFile(image->source_path, EXS_Unknown, EGL_noChange, 4096), "reading the source instance");
        DcmDataset *src = source.getDataset();
        OFString charset;
        const bool utf8 = src->findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).good() && !charset.empty();
        if (utf8) (void)src->convertToUTF8();

        DcmFileFormat out;
        DcmDataset *ds = out.getDataset();
        if (utf8) check(ds->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192"), "character set");
        check(ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage), "SOP class");
        check(ds->putAndInsertString(DCM_SOPInstanceUID, image->sop_instance_uid), "SOP instance");
        OFString date, time;
        OFDateTime now = OFDateTime::getCurrentDateTime();
        now.getDate().getISOFormattedDate(date, OFFalse);
        now.getTime().getISOFormattedTime(time, OFTrue, OFFalse, OFFalse, OFFalse);
        check(ds->putAndInsertString(DCM_InstanceCreationDate, date.c_str()), "date");
        check(ds->putAndInsertString(DCM_InstanceCreationTime, time.c_str()), "time");
        check(ds->putAndInsertString(DCM_ContentDate, date.c_str()), "date");
        check(ds->putAndInsertString(DCM_ContentTime, time.c_str()), "time");
        // Patient and General Study modules, as the source has them.
        const DcmTagKey copied[] = {DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex,
                                    DCM_StudyInstanceUID, DCM_StudyDate, DCM_StudyTime, DCM_ReferringPhysicianName,
                                    DCM_StudyID, DCM_AccessionNumber};
        for (const DcmTagKey &tag : copied) copy(src, ds, tag);
        OFString optional;
        if (src->findAndGetOFStringArray(DCM_IssuerOfPatientID, optional).good() && !optional.empty())
            check(ds->putAndInsertString(DCM_IssuerOfPatientID, optional.c_str()), "issuer");
        if (src->findAndGetOFStringArray(DCM_StudyDescription, optional).good() && !optional.empty())
            check(ds->putAndInsertString(DCM_StudyDescription, optional.c_str()), "study description");
        // General Series, SC Equipment, General Equipment.
        char number[32];
        check(ds->putAndInsertString(DCM_Modality, "OT"), "modality");
        check(ds->putAndInsertString(DCM_SeriesInstanceUID, image->series_instance_uid), "series");
        std::snprintf(number, sizeof number, "%d", image->series_number);
        check(ds->putAndInsertString(DCM_SeriesNumber, number), "series number");
        check(ds->putAndInsertString(DCM_SeriesDescription, image->series_description), "series description");
        // Laterality (type 2C): the source's, from its series or its image, else empty.
        OFString side;
        if (src->findAndGetOFStringArray(DCM_Laterality, side).bad() || side.empty())
            if (src->findAndGetOFStringArray(DCM_ImageLaterality, side).bad() || (side != "L" && side != "R")) side = "";
        check(ds->putAndInsertString(DCM_Laterality, side.c_str()), "laterality");
        check(ds->putAndInsertString(DCM_ConversionType, "WSD"), "conversion type");
        check(ds->putAndInsertString(DCM_Manufacturer, "dxkit"), "manufacturer");
        check(ds->putAndInsertString(DCM_SecondaryCaptureDeviceManufacturer, "dxkit"), "device manufacturer");
        check(ds->putAndInsertString(DCM_SecondaryCaptureDeviceSoftwareVersions, image->software_version), "software");
        // General Image: derived from the source image, which it names.
        std::snprintf(number, sizeof number, "%d", image->instance_number);
        check(ds->putAndInsertString(DCM_InstanceNumber, number), "instance number");
        check(ds->putAndInsertString(DCM_PatientOrientation, ""), "patient orientation");
        check(ds->putAndInsertString(DCM_ImageType, "DERIVED\\SECONDARY"), "image type");
        check(ds->putAndInsertString(DCM_DerivationDescription, image->derivation_description), "derivation");
        check(ds->putAndInsertString(DCM_BurnedInAnnotation, "NO"), "burned in annotation");
        DcmItem *reference = nullptr;
        check(ds->findOrCreateSequenceItem(DCM_SourceImageSequence, reference, -2), "source image sequence");
        check(reference->putAndInsertString(DCM_ReferencedSOPClassUID, image->source_sop_class_uid), "source class");
        check(reference->putAndInsertString(DCM_ReferencedSOPInstanceUID, image->source_sop_instance_uid), "source instance");
        // Image Pixel: 8-bit RGB, interleaved.
        check(ds->putAndInsertUint16(DCM_SamplesPerPixel, 3), "samples");
        check(ds->putAndInsertString(DCM_PhotometricInterpretation, "RGB"), "photometric");
        check(ds->putAndInsertUint16(DCM_PlanarConfiguration, 0), "planar");
        check(ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(image->height)), "rows");
        check(ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(image->width)), "columns");
        check(ds->putAndInsertUint16(DCM_BitsAllocated, 8), "bits");
        check(ds->putAndInsertUint16(DCM_BitsStored, 8), "bits");
        check(ds->putAndInsertUint16(DCM_HighBit, 7), "bits");
        check(ds->putAndInsertUint16(DCM_PixelRepresentation, 0), "representation");
        const unsigned long size = static_cast<unsigned long>(image->width) * image->height * 3;
        check(ds->putAndInsertUint8Array(DCM_PixelData, image->rgb, size), "pixel data");
        check(out.saveFile(image->out_path, EXS_LittleEndianExplicit), "saving");
        return 1;
    } catch (const Failure &f) {
        std::snprintf(err, errlen, "%s", f.reason.c_str());
        return 0;
    }
}
