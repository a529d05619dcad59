@testable import DICOM
import Foundation
import XCTest

/// Every pixel-bearing file of pydicom's test set and pydicom-data, decoded by dxkit and
/// compared with pydicom's own decode (Fixtures/pixel-oracle.json, by scripts/pixel_oracle.py).
final class PixelConformanceTests: XCTestCase {
    struct Oracle: Decodable {
        struct Entry: Decodable {
            let file: String
            let pydicom_decodes: Bool
            let error: String?
            let transfer_syntax: String?
            let lossless: Bool?
            let rows: Int?, columns: Int?, frames: Int?
            let photometric: String?
            let min: Double?, max: Double?, mean: Double?
            let stored_sha256: String?
        }
        let files: [Entry]
    }

    func testMatchesPydicomOnItsTestFiles() throws {
        try TestData.require()
        let data = try Data(contentsOf: TestData.fixtures.appendingPathComponent("pixel-oracle.json"))
        let oracle = try JSONDecoder().decode(Oracle.self, from: data)
        let decodable = oracle.files.filter(\.pydicom_decodes)
        XCTAssertGreaterThan(decodable.count, 100, "the oracle should cover the whole test set")
        var failures: [String] = []
        let byFile = Dictionary(uniqueKeysWithValues: oracle.files.map { ($0.file, $0) })
        for var entry in decodable {
            if let twin = Self.pydicomMisreads[entry.file], let reference = byFile[twin] {
                print("  compared with \(twin) instead: pydicom misreads big-endian palette LUT data of \(entry.file)")
                entry = Oracle.Entry(file: entry.file, pydicom_decodes: true, error: nil,
                                     transfer_syntax: entry.transfer_syntax, lossless: reference.lossless,
                                     rows: reference.rows, columns: reference.columns, frames: reference.frames,
                                     photometric: reference.photometric, min: reference.min, max: reference.max,
                                     mean: reference.mean, stored_sha256: reference.stored_sha256)
            }
            if let problem = compare(entry) { failures.append("\(entry.file) [\(TransferSyntax.name(entry.transfer_syntax ?? ""))]: \(problem)") }
        }
        let passed = decodable.count - failures.count
        print("pixel conformance: \(passed)/\(decodable.count) files decoded as pydicom does")
        for f in failures { print("  not passing: \(f)") }
        XCTAssertGreaterThanOrEqual(Double(passed), 0.98 * Double(decodable.count),
                                    "fewer than 98% of pydicom-decodable files match")
    }

    /// Files pydicom decodes wrongly, each checked against its little-endian twin instead: the
    /// palette tables are the same 16-bit values in both encodings (0…65280, as pydicom itself
    /// gives for the little-endian and RLE copies), but pydicom's apply_color_lut yields 0…255 for these.
    static let pydicomMisreads = [
        "pydicom-data/data_store/data/OBXXXX1A_expb.dcm": "pydicom-data/data_store/data/OBXXXX1A.dcm",
        "pydicom-data/data_store/data/OBXXXX1A_expb_2frame.dcm": "pydicom-data/data_store/data/OBXXXX1A_2frame.dcm",
    ]

    /// Returns nil when dxkit's decode of frame 0 agrees with pydicom's, else the reason.
    func compare(_ e: Oracle.Entry) -> String? {
        do {
            let image = try DicomImage(path: TestData.path(e.file))
            if image.layout.rows != e.rows || image.layout.columns != e.columns || image.layout.frames != e.frames {
                return "shape \(image.layout.rows)x\(image.layout.columns)x\(image.layout.frames), pydicom \(e.rows!)x\(e.columns!)x\(e.frames!)"
            }
            let stored = try image.storedFrame(0)
            if let expected = e.stored_sha256 {
                let actual = storedHash(stored)
                if actual != expected { return "stored values differ (sha256 \(actual.prefix(12)) vs \(expected.prefix(12)))" }
            }
            let frame = try image.frame(0)
            if frame.photometric != e.photometric { return "photometric \(frame.photometric), pydicom \(e.photometric!)" }
            let s = frame.statistics
            let range = max(e.max! - e.min!, 1)
            let lossy = !(e.lossless ?? true)
            let converted = e.stored_sha256 == nil && !lossy
            // Lossless: exact up to Float32 rounding. Colour-converted: rounding of the YBR
            // formula may differ by one. Lossy: decoders may differ slightly; 2% of the range.
            let tolerance = lossy ? 0.02 * range : converted ? 1.0 : 1e-6 * max(abs(e.max!), abs(e.min!), 1)
            let meanTolerance = lossy ? 0.005 * range : converted ? 0.5 : 1e-5 * max(abs(e.mean!), 1)
            if abs(Double(s.min) - e.min!) > tolerance || abs(Double(s.max) - e.max!) > tolerance {
                return "range \(s.min)...\(s.max), pydicom \(e.min!)...\(e.max!)"
            }
            if abs(s.mean - e.mean!) > meanTolerance { return "mean \(s.mean), pydicom \(e.mean!)" }
            return nil
        } catch {
            return "\(error)"
        }
    }

    func storedHash(_ stored: StoredFrame) -> String {
        var bytes = [Int64](repeating: 0, count: stored.values.count)
        for i in 0..<bytes.count { bytes[i] = stored.value(i).littleEndian }
        return bytes.withUnsafeBytes { ContentHash.sha256($0) }
    }
}

/// The one-pass monochrome conversion gives exactly what the general path (stored values, then
/// the modality transform) gives, pixel for pixel, on every monochrome file of the oracle.
final class FastPathTests: XCTestCase {
    func testFastMonochromePathEqualsGeneralPath() throws {
        try TestData.require()
        let data = try Data(contentsOf: TestData.fixtures.appendingPathComponent("pixel-oracle.json"))
        let oracle = try JSONDecoder().decode(PixelConformanceTests.Oracle.self, from: data)
        var compared = 0
        for entry in oracle.files where entry.pydicom_decodes && (entry.photometric ?? "").hasPrefix("MONOCHROME") {
            guard let image = try? DicomImage(path: TestData.path(entry.file)),
                  let stored = try? image.storedFrame(0), let fast = try? image.frame(0) else { continue }
            let transform = try image.modalityTransform(frame: 0)
            var mismatches = 0
            for i in 0..<stored.values.count where fast.pixels[i] != transform.apply(stored.value(i)) { mismatches += 1 }
            XCTAssertEqual(mismatches, 0, entry.file)
            compared += 1
        }
        XCTAssertGreaterThan(compared, 40)
    }
}

/// Greyscale JPEG Baseline through libjpeg-turbo gives exactly DCMTK's values (DCMTK's are
/// checked against pydicom above), on the sample chest studies (1416x1776 and larger CR images).
final class BaselineJPEGTests: XCTestCase {
    func testLibjpegTurboEqualsDCMTKOnGreyBaseline() throws {
        let folder = TestData.repoRoot.appendingPathComponent("studies/chest").path
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".dcm") }.sorted()
        XCTAssertEqual(names.count, 16, "run `make setup` first")
        defer { BaselineJPEGDecoder.enabled = true }
        for name in names {
            let path = "\(folder)/\(name)"
            BaselineJPEGDecoder.enabled = true
            let turbo = try DicomImage(path: path).storedFrame(0)
            XCTAssertTrue(BaselineJPEGDecoder.applies(try DicomImage(path: path).layout), name)
            BaselineJPEGDecoder.enabled = false
            let dcmtk = try DicomImage(path: path).storedFrame(0)
            XCTAssertEqual(turbo.values.count, dcmtk.values.count, name)
            XCTAssertTrue(turbo.values == dcmtk.values, "\(name): libjpeg-turbo and DCMTK differ")
        }
    }
}
