import DICOM
@testable import Imaging
import XCTest

/// The heatmap writer: PNG files libpng reads back byte for byte, and the overlay's blend.
final class OverlayPNGTests: XCTestCase {
    func testEncodedPNGReadsBackExactly() throws {
        var seed: UInt64 = 5
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-png-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (w, h, c) in [(37, 23, 3), (1, 1, 1), (64, 5, 1), (3, 40, 3)] {
            // Smooth ramps plus noise: rows differ from the ones above by small and large steps.
            let bytes = (0..<(w * h * c)).map { i -> UInt8 in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: i / c + Int(seed >> 61))
            }
            let path = "\(dir)/\(w)x\(h)x\(c).png"
            try bytes.withUnsafeBufferPointer { try PNGEncoder.write($0, width: w, height: h, channels: c, to: path) }
            let back = try PNGFile.read(path)
            XCTAssertEqual([back.width, back.height, back.channels], [w, h, c])
            XCTAssertEqual(back.pixels, bytes.map(Float.init), "\(w)x\(h)x\(c)")
        }
        XCTAssertThrowsError(try [UInt8](repeating: 0, count: 3).withUnsafeBufferPointer {
            try PNGEncoder.write($0, width: 1, height: 1, channels: 3, to: "\(dir)/missing/x.png")
        }) { XCTAssertTrue("\($0)".contains("missing/x.png"), "\($0)") }
    }

    func testOverlayBlendsJetWhereTheMapIsStrong() {
        // 4x2 grey image of value 100; a 2x1 map whose right cell is the peak.
        let grey = [UInt8](repeating: 100, count: 8)
        let out = grey.withUnsafeBufferPointer {
            HeatmapOverlay.render($0, width: 4, height: 2, channels: 1, map: [0, 2], mapWidth: 2, mapHeight: 1)
        }
        XCTAssertEqual(out.count, 4 * 2 * 3)
        // Leftmost column samples the zero cell: the image unchanged, grey in all three channels.
        XCTAssertEqual(Array(out[0..<3]), [100, 100, 100])
        // Rightmost column samples the peak (v = 1): jet(1) is (0.5, 0, 0) blended at alpha 0.55.
        let right = Array(out[9..<12])
        XCTAssertEqual(right, [UInt8(100 * 0.45 + 0.5 * 255 * 0.55 + 0.5), UInt8(100 * 0.45 + 0.5), UInt8(100 * 0.45 + 0.5)])
        // A map with no positive value leaves the image as it is.
        let flat = grey.withUnsafeBufferPointer {
            HeatmapOverlay.render($0, width: 4, height: 2, channels: 1, map: [0, 0], mapWidth: 2, mapHeight: 1)
        }
        XCTAssertEqual(flat, [UInt8](repeating: 100, count: 24))
    }

    /// The intensity (scoring passes the class's probability) scales the map after normalising:
    /// half the probability, half the blend; NaN or zero leaves the image as it is.
    func testIntensityShadesTheMapByProbability() {
        let grey = [UInt8](repeating: 100, count: 8)
        func right(_ intensity: Float) -> [UInt8] {
            let out = grey.withUnsafeBufferPointer {
                HeatmapOverlay.render($0, width: 4, height: 2, channels: 1, map: [0, 2], mapWidth: 2, mapHeight: 1, intensity: intensity)
            }
            return Array(out[9..<12])
        }
        // v = 0.5: jet(0.5) = (0.5, 1, 0.5) at alpha 0.275.
        XCTAssertEqual(right(0.5), [UInt8(100 * 0.725 + 0.5 * 255 * 0.275 + 0.5), UInt8(100 * 0.725 + 255 * 0.275 + 0.5),
                                    UInt8(100 * 0.725 + 0.5 * 255 * 0.275 + 0.5)])
        XCTAssertEqual(right(0), [100, 100, 100])
        XCTAssertEqual(right(.nan), [100, 100, 100])
        XCTAssertEqual(right(1), right(7), "clamped to 1")
    }
}
