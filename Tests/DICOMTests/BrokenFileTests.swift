import DICOM
import Foundation
import XCTest

/// Bad input gives a typed error naming the file and the reason, never a crash.
final class BrokenFileTests: XCTestCase {
    func testTruncatedFileIsAnError() throws {
        try TestData.require()
        let path = TestData.pydicom("MR_truncated.dcm")
        XCTAssertThrowsError(try InstanceReader.read(path: path)) { error in
            let e = error as? DicomError
            XCTAssertEqual(e?.file, path)
            XCTAssertFalse(e?.reason.isEmpty ?? true)
        }
    }

    func testBrokenJPEG2000FailsToDecodeWithReason() throws {
        try TestData.require()
        let path = TestData.pydicomData("emri_small_jpeg_2k_lossless_too_short.dcm")
        do {
            let image = try DicomImage(path: path)
            _ = try image.frame(0)
            XCTFail("decoding a truncated JPEG 2000 stream should fail")
        } catch let e as DicomError {
            XCTAssertEqual(e.file, path)
            XCTAssertTrue(e.description.hasPrefix(path))
        }
    }

    func testMissingDirectoryAndNonDicomFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-broken-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try DicomFile(path: dir.appendingPathComponent("absent.dcm").path)) {
            XCTAssertEqual(($0 as? DicomError)?.kind, .unreadable)
        }
        XCTAssertThrowsError(try DicomFile(path: dir.path)) {
            XCTAssertEqual(($0 as? DicomError)?.reason, "is a directory")
        }
        let text = dir.appendingPathComponent("notes").path
        try "just some text, long enough to look like a file with content in it".write(toFile: text, atomically: true, encoding: .utf8)
        guard case .notDicom = try InstanceReader.read(path: text) else { return XCTFail("plain text is not DICOM") }
        let fake = dir.appendingPathComponent("fake.dcm").path
        try FileManager.default.copyItem(atPath: text, toPath: fake)
        XCTAssertThrowsError(try InstanceReader.read(path: fake), "a .dcm file that is not DICOM is an error")
    }

    func testDicomdirIsRecognisedAndFollowed() throws {
        try TestData.require()
        let dicomdir = TestData.pydicom("dicomdirtests/DICOMDIR")
        guard case .directory = try InstanceReader.read(path: dicomdir) else { return XCTFail("DICOMDIR not recognised") }
        let scan = FileScanner().scan([dicomdir])
        XCTAssertEqual(scan.dicomdirs.count, 1)
        XCTAssertGreaterThan(scan.files.count, 10, "the records reference the files under dicomdirtests/")
        XCTAssertTrue(scan.files.allSatisfy { FileManager.default.fileExists(atPath: $0) })
    }
}
