import Foundation
import Imaging
import XCTest

/// `dxkit inspect --json` and `dxkit export-png` as a user runs them, checked against pydicom's values.
final class InspectExportTests: XCTestCase {
    struct Oracle: Decodable {
        struct Header: Decodable {
            let file: String
            let sop_instance_uid: String
            let display_png8_mean: Double?
        }
        struct File: Decodable {
            let file: String
            let pydicom_decodes: Bool
            let min: Double?, max: Double?, mean: Double?
            let photometric: String?
        }
        let headers: [Header]
        let files: [File]
    }

    func oracle() throws -> Oracle {
        let url = CLI.repo.appendingPathComponent("Tests/DICOMTests/Fixtures/pixel-oracle.json")
        return try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: url))
    }

    func inspect(_ relative: String) throws -> (Int32, [String: Any]) {
        let r = try CLI.run(["inspect", "--json", CLI.data(relative)])
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return (r.status, object ?? [:])
    }

    func testInspectJSONCarriesTheContractKeysWithPydicomValues() throws {
        try CLI.requireData()
        let o = try oracle()
        for name in ["pydicom-data/data_store/data/RG1_UNCI.dcm", "pydicom/pydicom/data/test_files/CT_small.dcm",
                     "pydicom/pydicom/data/test_files/SC_rgb_rle.dcm"] {
            let (status, json) = try inspect(name)
            XCTAssertEqual(status, 0, name)
            for key in ["sop_instance_uid", "modality", "rows", "columns", "frames", "photometric", "transfer_syntax",
                        "bits_stored", "pixel_representation", "sex", "age_years", "decoded", "error",
                        "pixel_min", "pixel_max", "pixel_mean"] {
                XCTAssertTrue(json.keys.contains(key), "\(name) lacks \(key)")
            }
            XCTAssertEqual(json["decoded"] as? Bool, true)
            XCTAssertTrue(json["error"] is NSNull)
            let expected = try XCTUnwrap(o.files.first { $0.file == name })
            XCTAssertEqual(json["photometric"] as? String, expected.photometric)
            XCTAssertEqual(json["pixel_min"] as? Double ?? .nan, expected.min!, accuracy: 1e-3)
            XCTAssertEqual(json["pixel_max"] as? Double ?? .nan, expected.max!, accuracy: 1e-3)
            XCTAssertEqual(json["pixel_mean"] as? Double ?? .nan, expected.mean!, accuracy: 1e-4 * max(1, abs(expected.mean!)))
            if let header = o.headers.first(where: { $0.file == name }) {
                XCTAssertEqual(json["sop_instance_uid"] as? String, header.sop_instance_uid)
            }
        }
        let (_, ct) = try inspect("pydicom/pydicom/data/test_files/CT_small.dcm")
        XCTAssertEqual(ct["pixel_representation"] as? Int, 1)
        XCTAssertEqual(ct["modality"] as? String, "CT")
    }

    func testInspectReportsUndecodableFiles() throws {
        try CLI.requireData()
        let (status, json) = try inspect("pydicom-data/data_store/data/emri_small_jpeg_2k_lossless_too_short.dcm")
        XCTAssertEqual(status, 1)
        XCTAssertEqual(json["decoded"] as? Bool, false)
        XCTAssertFalse((json["error"] as? String ?? "").isEmpty)
        let missing = try CLI.run(["inspect", "--json", "/nonexistent/file.dcm"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stdout.contains("no such file"))
    }

    func testExportPNGMatchesPydicomWindowing() throws {
        try CLI.requireData()
        let o = try oracle()
        let name = "pydicom-data/data_store/data/RG3_UNCR.dcm"
        let expected = try XCTUnwrap(o.headers.first { $0.file == name }?.display_png8_mean)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try CLI.run(["export-png", CLI.data(name), "--no-invert", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let png = try Data(contentsOf: URL(fileURLWithPath: out))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertEqual(png[24], 8, "bit depth in IHDR")
        let image = try PNGFile.read(out)
        XCTAssertEqual(image.channels, 1)
        let mean = image.statistics.mean
        XCTAssertEqual(mean, expected, accuracy: 0.05, "8-bit PNG mean against pydicom's windowed values")

        let deep = out + ".16.png"
        defer { try? FileManager.default.removeItem(atPath: deep) }
        XCTAssertEqual(try CLI.run(["export-png", CLI.data(name), "--depth", "16", "--out", deep]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: deep))[24], 16)
        let bad = try CLI.run(["export-png", CLI.data(name), "--window", "abc", "--out", deep])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--window"))
    }
}

