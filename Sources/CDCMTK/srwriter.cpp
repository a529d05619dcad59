// srwriter.cpp — builds a TID 1500 Comprehensive SR with DCMTK's dcmsr (see dxdcm.h).
#include "dxdcm.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmsr/dsrdoc.h"
#include "dcmtk/dcmsr/dsrcodvl.h"
#include "dcmtk/dcmsr/dsrnumvl.h"
#include "dcmtk/dcmsr/dsrimgvl.h"

namespace {

struct Failure {
    std::string reason;
};

std::string text(DcmItem *ds, const DcmTagKey &tag) {
    OFString v;
    if (ds->findAndGetOFStringArray(tag, v).bad()) return "";
    return v.c_str();
}

DSRCodedEntryValue code(const char *value, const char *scheme, const char *meaning) {
    return DSRCodedEntryValue(value, scheme, meaning);
}

// Adds a content item to the tree and sets its concept name; throws with the step's name on failure.
DSRContentItem &add(DSRDocumentTree &tree, DSRTypes::E_RelationshipType rel, DSRTypes::E_ValueType type,
                    DSRTypes::E_AddMode mode, const DSRCodedEntryValue *concept, const char *what) {
    if (tree.addContentItem(rel, type, mode) == 0) throw Failure{std::string("cannot add ") + what};
    DSRContentItem &item = tree.getCurrentContentItem();
    if (concept != nullptr && item.setConceptName(*concept, OFFalse).bad()) throw Failure{std::string("concept of ") + what};
    return item;
}

void check(OFCondition c, const char *what) {
    if (c.bad()) throw Failure{std::string(what) + ": " + c.text()};
}

}  // namespace

int dx_write_sr(const char *source_path, const char *out_path, const dx_sr_document *document,
                const dx_sr_finding *findings, int count, char *err, size_t errlen) {
    dx_init();
    try {
        if (count < 1) throw Failure{"no findings"};
        DcmFileFormat source;
        check(source.loadFile(source_path, EXS_Unknown, EGL_noChange, 4096), "reading the source instance");
        DcmDataset *src = source.getDataset();
        OFString charset;
        if (src->findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).good() && !charset.empty())
            (void)src->convertToUTF8();

        DSRDocument doc(DSRTypes::DT_ComprehensiveSR);
        check(doc.setSpecificCharacterSetType(DSRTypes::CS_UTF8), "character set");
        const std::string study = text(src, DCM_StudyInstanceUID);
        if (study.empty()) throw Failure{"source instance has no Study Instance UID"};
        check(doc.createNewSeriesInStudy(study.c_str(), OFFalse), "study");
        // Patient and study modules, copied as they are (values are not re-validated).
        doc.setPatientName(text(src, DCM_PatientName).c_str(), OFFalse);
        doc.setPatientID(text(src, DCM_PatientID).c_str(), OFFalse);
        doc.setPatientBirthDate(text(src, DCM_PatientBirthDate).c_str(), OFFalse);
        doc.setPatientSex(text(src, DCM_PatientSex).c_str(), OFFalse);
        doc.setStudyDate(text(src, DCM_StudyDate).c_str(), OFFalse);
        doc.setStudyTime(text(src, DCM_StudyTime).c_str(), OFFalse);
        doc.setStudyID(text(src, DCM_StudyID).c_str(), OFFalse);
        doc.setAccessionNumber(text(src, DCM_AccessionNumber).c_str(), OFFalse);
        doc.setReferringPhysicianName(text(src, DCM_ReferringPhysicianName).c_str(), OFFalse);
        doc.setStudyDescription(text(src, DCM_StudyDescription).c_str(), OFFalse);
        doc.setSeriesDescription("dxkit AI findings (research use only)", OFFalse);
        doc.setManufacturer("dxkit", OFFalse);
        doc.setManufacturerModelName("dxkit", OFFalse);
        doc.setSoftwareVersions(document->software_version, OFFalse);
        char number[32];
        std::snprintf(number, sizeof number, "%d", document->series_number);
        check(doc.setSeriesNumber(number, OFFalse), "series number");
        std::snprintf(number, sizeof number, "%d", document->instance_number);
        check(doc.setInstanceNumber(number, OFFalse), "instance number");
        // Private coding schemes are identified (PS3.3 C.12.1.1.9: Coding Scheme Identification Sequence).
        DSRCodingSchemeIdentificationList &schemes = doc.getCodingSchemeIdentification();
        for (int i = 0; i < document->scheme_count; ++i) {
            check(schemes.addItem(document->scheme_designators[i]), "coding scheme");
            check(schemes.setCodingSchemeName(document->scheme_names[i], OFFalse), "coding scheme name");
            check(schemes.setCodingSchemeResponsibleOrganization(document->scheme_organizations[i], OFFalse),
                  "coding scheme organization");
        }

        DSRDocumentTree &tree = doc.getTree();
        const DSRCodedEntryValue root = code("126000", "DCM", "Imaging Measurement Report");
        DSRContentItem &rootItem = add(tree, DSRTypes::RT_isRoot, DSRTypes::VT_Container, DSRTypes::AM_afterCurrent, &root, "root");
        check(rootItem.setContinuityOfContent(DSRTypes::COC_Separate), "continuity");
        check(rootItem.setTemplateIdentification("1500", "DCMR"), "template identification");

        const DSRCodedEntryValue language = code("121049", "DCM", "Language of Content Item and Descendants");
        check(add(tree, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, DSRTypes::AM_belowCurrent, &language, "language")
                  .setCodeValue(code("en-US", "RFC5646", "English (United States)"), OFFalse), "language value");
        const DSRCodedEntryValue observerType = code("121005", "DCM", "Observer Type");
        check(add(tree, DSRTypes::RT_hasObsContext, DSRTypes::VT_Code, DSRTypes::AM_afterCurrent, &observerType, "observer type")
                  .setCodeValue(code("121007", "DCM", "Device"), OFFalse), "observer type value");
        const DSRCodedEntryValue observerUID = code("121012", "DCM", "Device Observer UID");
        check(add(tree, DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef, DSRTypes::AM_afterCurrent, &observerUID, "observer UID")
                  .setStringValue(document->device_observer_uid, OFFalse), "observer UID value");
        const DSRCodedEntryValue observerName = code("121013", "DCM", "Device Observer Name");
        check(add(tree, DSRTypes::RT_hasObsContext, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent, &observerName, "observer name")
                  .setStringValue("dxkit", OFFalse), "observer name value");
        const DSRCodedEntryValue procedure = code("121058", "DCM", "Procedure reported");
        check(add(tree, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Code, DSRTypes::AM_afterCurrent, &procedure, "procedure")
                  .setCodeValue(code(document->procedure_code, document->procedure_scheme, document->procedure_meaning), OFFalse),
              "procedure value");

        // Image library: every source image.
        const DSRCodedEntryValue library = code("111028", "DCM", "Image Library");
        add(tree, DSRTypes::RT_contains, DSRTypes::VT_Container, DSRTypes::AM_afterCurrent, &library, "image library");
        const DSRCodedEntryValue group = code("126200", "DCM", "Image Library Group");
        add(tree, DSRTypes::RT_contains, DSRTypes::VT_Container, DSRTypes::AM_belowCurrent, &group, "image library group");
        for (int i = 0; i < count; ++i) {
            DSRContentItem &image = add(tree, DSRTypes::RT_contains, DSRTypes::VT_Image,
                                        i == 0 ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent, nullptr, "image");
            check(image.setImageReference(DSRImageReferenceValue(findings[i].sop_class_uid, findings[i].sop_instance_uid), OFFalse),
                  "image reference");
        }
        tree.goUp();
        tree.goUp();

        // Imaging measurements: one measurement group (TID 1501) per finding.
        const DSRCodedEntryValue measurements = code("126010", "DCM", "Imaging Measurements");
        add(tree, DSRTypes::RT_contains, DSRTypes::VT_Container, DSRTypes::AM_afterCurrent, &measurements, "measurements");
        for (int i = 0; i < count; ++i) {
            const dx_sr_finding &f = findings[i];
            const DSRCodedEntryValue groupCode = code("125007", "DCM", "Measurement Group");
            add(tree, DSRTypes::RT_contains, DSRTypes::VT_Container, i == 0 ? DSRTypes::AM_belowCurrent : DSRTypes::AM_afterCurrent,
                &groupCode, "measurement group");
            const DSRCodedEntryValue tracking = code("112039", "DCM", "Tracking Identifier");
            check(add(tree, DSRTypes::RT_hasObsContext, DSRTypes::VT_Text, DSRTypes::AM_belowCurrent, &tracking, "tracking id")
                      .setStringValue((std::string(f.head) + " " + f.sop_instance_uid).c_str(), OFFalse), "tracking id value");
            const DSRCodedEntryValue trackingUID = code("112040", "DCM", "Tracking Unique Identifier");
            check(add(tree, DSRTypes::RT_hasObsContext, DSRTypes::VT_UIDRef, DSRTypes::AM_afterCurrent, &trackingUID, "tracking uid")
                      .setStringValue(f.tracking_uid, OFFalse), "tracking uid value");
            const DSRCodedEntryValue finding = code("121071", "DCM", "Finding");
            const DSRCodedEntryValue findingValue = code(f.finding_code, f.finding_scheme, f.finding_meaning);
            check(add(tree, DSRTypes::RT_contains, DSRTypes::VT_Code, DSRTypes::AM_afterCurrent, &finding, "finding")
                      .setCodeValue(findingValue, OFFalse), "finding value");
            // Algorithm identification (TID 4019).
            const DSRCodedEntryValue algName = code("111001", "DCM", "Algorithm Name");
            check(add(tree, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent, &algName, "algorithm name")
                      .setStringValue(f.algorithm_name, OFFalse), "algorithm name value");
            const DSRCodedEntryValue algVersion = code("111003", "DCM", "Algorithm Version");
            check(add(tree, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent, &algVersion, "algorithm version")
                      .setStringValue(f.algorithm_version, OFFalse), "algorithm version value");
            const DSRCodedEntryValue algParameters = code("111002", "DCM", "Algorithm Parameters");
            check(add(tree, DSRTypes::RT_hasConceptMod, DSRTypes::VT_Text, DSRTypes::AM_afterCurrent, &algParameters, "algorithm parameters")
                      .setStringValue(f.algorithm_parameters, OFFalse), "algorithm parameters value");
            // Qualitative evaluation: the finding as concept, the decision as its coded value
            // (e.g. Pneumonia = Present), then the probabilities (no units).
            check(add(tree, DSRTypes::RT_contains, DSRTypes::VT_Code, DSRTypes::AM_afterCurrent, &findingValue, "evaluation")
                      .setCodeValue(code(f.decision_code, f.decision_scheme, f.decision_meaning), OFFalse),
                  "evaluation value");
            const DSRCodedEntryValue probability = code("DXK001", "99DXKIT", "Probability of finding");
            std::snprintf(number, sizeof number, "%.6f", f.probability);
            check(add(tree, DSRTypes::RT_contains, DSRTypes::VT_Num, DSRTypes::AM_afterCurrent, &probability, "probability")
                      .setNumericValue(DSRNumericMeasurementValue(number, code("1", "UCUM", "no units")), OFFalse), "probability value");
            const DSRCodedEntryValue calibrated = code("DXK002", "99DXKIT", "Calibrated probability of finding");
            std::snprintf(number, sizeof number, "%.6f", f.calibrated_probability);
            check(add(tree, DSRTypes::RT_contains, DSRTypes::VT_Num, DSRTypes::AM_afterCurrent, &calibrated, "calibrated probability")
                      .setNumericValue(DSRNumericMeasurementValue(number, code("1", "UCUM", "no units")), OFFalse), "calibrated value");
            const DSRCodedEntryValue sourceImage = code("121112", "DCM", "Source of Measurement");
            check(add(tree, DSRTypes::RT_contains, DSRTypes::VT_Image, DSRTypes::AM_afterCurrent, &sourceImage, "source image")
                      .setImageReference(DSRImageReferenceValue(f.sop_class_uid, f.sop_instance_uid), OFFalse), "source image reference");
            // The heatmaps (Secondary Capture images in this study) illustrate where the evidence is.
            const DSRCodedEntryValue illustration = code("121200", "DCM", "Illustration of ROI");
            for (int h = 0; h < f.heatmap_count && h < 2; ++h) {
                check(add(tree, DSRTypes::RT_contains, DSRTypes::VT_Image, DSRTypes::AM_afterCurrent, &illustration, "heatmap")
                          .setImageReference(DSRImageReferenceValue(UID_SecondaryCaptureImageStorage, f.heatmap_sop_instance_uid[h]),
                                             OFFalse), "heatmap reference");
                check(doc.getCurrentRequestedProcedureEvidence().addItem(study.c_str(), f.heatmap_series_instance_uid,
                                                                           UID_SecondaryCaptureImageStorage,
                                                                           f.heatmap_sop_instance_uid[h]), "heatmap evidence");
            }
            tree.goUp();
            check(doc.getCurrentRequestedProcedureEvidence().addItem(study.c_str(), f.series_instance_uid, f.sop_class_uid,
                                                                       f.sop_instance_uid), "evidence");
        }
        check(doc.completeDocument(), "completion flag");
        DcmFileFormat out;
        check(doc.write(*out.getDataset()), "writing the SR dataset");
        // The document's identity is derived by the caller (the same study and findings give the same
        // UIDs on every run, so a PACS replaces instead of adding a copy).
        DcmDataset *ds = out.getDataset();
        check(ds->putAndInsertString(DCM_SeriesInstanceUID, document->series_instance_uid), "series UID");
        check(ds->putAndInsertString(DCM_SOPInstanceUID, document->sop_instance_uid), "SOP instance UID");
        check(out.saveFile(out_path, EXS_LittleEndianExplicit), "saving");
        return 1;
    } catch (const Failure &f) {
        std::snprintf(err, errlen, "%s", f.reason.c_str());
        return 0;
    }
}
