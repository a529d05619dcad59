import DICOM
import XCTest

/// Header fields and windowed display values against pydicom's reading of the same files.
final class HeaderTests: XCTestCase {
    func testInstanceFieldsMatchPydicom() throws {
        try TestData.require()
        let entries = try HeaderOracle.load()
        XCTAssertGreaterThanOrEqual(entries.count, 8)
        for e in entries {
            let file = try DicomFile(path: TestData.path(e.file))
            let i = try Instance(file: file)
            let name = e.file
            XCTAssertEqual(i.sopInstanceUID, e.sop_instance_uid, name)
            XCTAssertEqual(i.sopClassUID, e.sop_class_uid, name)
            XCTAssertEqual(i.studyInstanceUID, e.study_instance_uid, name)
            XCTAssertEqual(i.seriesInstanceUID, e.series_instance_uid, name)
            XCTAssertEqual(i.patientID, e.patient_id, name)
            XCTAssertEqual(i.patientSex, e.sex, name)
            XCTAssertEqual(i.ageYears, e.age_years, name)
            XCTAssertEqual(i.modality, e.modality, name)
            XCTAssertEqual(i.bodyPart, e.body_part, name)
            XCTAssertEqual(i.viewPosition, e.view_position, name)
            XCTAssertEqual(i.manufacturer, e.manufacturer, name)
            XCTAssertEqual(i.rows, e.rows, name)
            XCTAssertEqual(i.columns, e.columns, name)
            XCTAssertEqual(i.frames, e.frames, name)
            XCTAssertEqual(i.bitsAllocated, e.bits_allocated, name)
            XCTAssertEqual(i.bitsStored, e.bits_stored, name)
            XCTAssertEqual(i.pixelRepresentation, e.pixel_representation, name)
            XCTAssertEqual(i.photometric, e.photometric_stored, name)
            XCTAssertEqual(i.transferSyntaxUID, e.transfer_syntax, name)
            XCTAssertEqual(i.pixelSpacing, e.pixel_spacing, name)
        }
    }

    /// Modality + VOI (window or VOI LUT) scaled to [0, 1], as pydicom's apply_voi_lut gives it.
    func testDisplayValuesMatchPydicomWindowing() throws {
        try TestData.require()
        let entries = try HeaderOracle.load().filter { $0.display_mean != nil }
        XCTAssertGreaterThanOrEqual(entries.count, 4, "RG1, RG3, MR_small and vlut_04 carry a VOI")
        for e in entries {
            let image = try DicomImage(path: TestData.path(e.file))
            let shown = try image.displayFrame(0, invertMonochrome1: false)
            let s = shown.statistics
            XCTAssertEqual(s.mean, e.display_mean!, accuracy: 1e-4, e.file)
            XCTAssertEqual(Double(s.min), e.display_min!, accuracy: 1e-4, e.file)
            XCTAssertEqual(Double(s.max), e.display_max!, accuracy: 1e-4, e.file)
        }
    }

    func testMonochrome1IsInvertedOnRequestOnly() throws {
        try TestData.require()
        let image = try DicomImage(path: TestData.pydicomData("RG1_UNCI.dcm"))
        XCTAssertEqual(image.layout.photometric, "MONOCHROME1")
        let kept = try image.displayFrame(0, invertMonochrome1: false)
        let inverted = try image.displayFrame(0, invertMonochrome1: true)
        XCTAssertEqual(kept.photometric, "MONOCHROME1")
        XCTAssertEqual(inverted.photometric, "MONOCHROME2")
        for i in stride(from: 0, to: kept.pixels.count, by: 9973) {
            XCTAssertEqual(kept.pixels[i] + inverted.pixels[i], 1, accuracy: 1e-6)
        }
    }

    func testMultiFrameFramesDiffer() throws {
        try TestData.require()
        let image = try DicomImage(path: TestData.pydicomData("emri_small.dcm"))
        XCTAssertEqual(image.layout.frames, 10)
        let first = try image.frame(0).pixels, last = try image.frame(9).pixels
        XCTAssertEqual(first.count, 64 * 64)
        XCTAssertNotEqual(first, last)
        XCTAssertThrowsError(try image.frame(10))
    }
}
