import DICOM
import Foundation
@testable import Imaging
import XCTest

/// The breast mask on the 8 CBIS-DDSM film mammograms: the breast is kept, the burned-in view
/// labels ("LCC", "RMLO", …) and the dark background are blacked out.
final class BreastRegionTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func mammograms() throws -> [String] {
        let root = Self.repo.appendingPathComponent("studies/mammograms").path
        guard let walker = FileManager.default.enumerator(atPath: root) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no mammograms")
        }
        let files = walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".dcm") }.sorted().map { "\(root)/\($0)" }
        XCTAssertEqual(files.count, 8)
        return files
    }

    func testMaskKeepsTheBreastAndHidesLabels() throws {
        for path in try mammograms() {
            let image = try ModelInput.pixels8(DicomImage(path: path))
            let region = BreastRegion.find(in: image)
            let share = Double(region.inside.filter { $0 }.count) / Double(region.inside.count)
            XCTAssertGreaterThan(share, 0.15, path)
            XCTAssertLessThan(share, 0.85, path)
            // Every other bright component of the thresholded image (the burned-in labels) is outside.
            let small = Resize.area(image, width: region.width, height: region.height)
            let threshold = BreastRegion.otsu(small.pixels) * 0.6
            var bright = small.pixels.map { $0 > threshold }
            let breast = try XCTUnwrap(BreastRegion.largestComponent(&bright, width: region.width, height: region.height))
            var others = zip(bright, breast).map { $0 && !$1 }
            var labelCells = 0
            while let label = BreastRegion.largestComponent(&others, width: region.width, height: region.height),
                  label.filter({ $0 }).count >= 6 {
                for (i, cell) in label.enumerated() where cell {
                    others[i] = false
                    labelCells += 1
                    XCTAssertFalse(region.inside[i], "\(path): a bright mark apart from the breast is inside the mask")
                }
            }
            if let dump = ProcessInfo.processInfo.environment["DXKIT_DUMP_MASKS"] {
                let masked = region.apply(to: image)
                let small = Resize.area(masked, width: masked.width / 8, height: masked.height / 8)
                var display = small
                display.pixels = small.pixels.map { $0 / 255 }
                try PNGFile.write(display, bitDepth: 8, to: "\(dump)/\(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent).png")
            }
        }
    }

    /// A synthetic "breast" (a bright half-disc at the left edge) and a bright label block apart:
    /// the disc is kept with its dark hole filled, the label hidden; a flat image hides nothing.
    func testSyntheticBreastAndLabel() {
        let w = 200, h = 300
        var pixels = [Float](repeating: 10, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                let dx = Double(x), dy = Double(y - 150)
                if dx * dx + dy * dy < 110 * 110 { pixels[y * w + x] = 180 }
                if dx * dx + dy * dy < 15 * 15 && x > 40 { pixels[y * w + x] = 10 }  // a dark hole inside
                if x >= 160 && x < 190 && y >= 20 && y < 40 { pixels[y * w + x] = 250 }  // the label
            }
        }
        pixels.withUnsafeMutableBufferPointer { p in for x in 45..<55 { for y in 145..<155 { p[y * w + x] = 10 } } }
        let image = Image(width: w, height: h, channels: 1, pixels: pixels, photometric: "MONOCHROME2")
        let region = BreastRegion.find(in: image)
        XCTAssertTrue(region.contains(x: 50 / 200, y: 150 / 300), "inside the disc")
        XCTAssertTrue(region.contains(x: 50.0 / 200, y: 150.0 / 300), "the hole is filled")
        XCTAssertFalse(region.contains(x: 175.0 / 200, y: 30.0 / 300), "the label is hidden")
        XCTAssertFalse(region.contains(x: 190.0 / 200, y: 280.0 / 300), "background")
        let masked = region.apply(to: image)
        XCTAssertEqual(masked.pixels[30 * w + 175], 0)
        XCTAssertEqual(masked.pixels[150 * w + 20], 180)
        let flat = BreastRegion.find(in: Image(width: 10, height: 10, channels: 1, pixels: [Float](repeating: 7, count: 100), photometric: "MONOCHROME2"))
        XCTAssertTrue(flat.inside.allSatisfy { $0 }, "nothing to tell apart: nothing hidden")
        // Heatmap mass: a map whose mass sits on the label is outside; on the disc, inside.
        var onLabel = [Float](repeating: 0, count: 24), onDisc = [Float](repeating: 0, count: 24)
        onLabel[0 * 4 + 3] = 1                    // cell x 150-200, y 0-50: the label and background
        onDisc[2 * 4 + 0] = 1; onDisc[3 * 4 + 0] = 2  // cells x 0-50, y 100-200: well inside the disc
        XCTAssertEqual(region.massInside(onLabel, mapWidth: 4, mapHeight: 6), 0)
        XCTAssertEqual(region.massInside(onDisc, mapWidth: 4, mapHeight: 6), 1)
        XCTAssertNil(region.massInside([Float](repeating: 0, count: 24), mapWidth: 4, mapHeight: 6))
    }
}
