import DICOM
@testable import Imaging
import XCTest

/// Resizing against textbook loops: area (box) averaging over each output pixel's source window,
/// and the nearest-neighbour index rule of Pillow's NEAREST (pos = scale/2, then += scale).
final class ResizeTests: XCTestCase {
    func testAreaAveragesEachWindow() {
        var seed: UInt64 = 7
        for (w, h, c, ow, oh) in [(9, 7, 3, 4, 3), (16, 16, 1, 5, 8), (13, 5, 3, 13, 2), (7, 11, 2, 3, 11)] {
            let pixels = (0..<(w * h * c)).map { _ -> Float in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(seed >> 40 % 256)
            }
            let image = Image(width: w, height: h, channels: c, pixels: pixels, photometric: "RGB")
            let got = Resize.area(image, width: ow, height: oh)
            XCTAssertEqual([got.width, got.height, got.channels], [ow, oh, c])
            for y in 0..<oh { for x in 0..<ow { for k in 0..<c {
                let y0 = y * h / oh, y1 = max((y + 1) * h / oh, y0 + 1)
                let x0 = x * w / ow, x1 = max((x + 1) * w / ow, x0 + 1)
                var s: Double = 0
                for yy in y0..<y1 { for xx in x0..<x1 { s += Double(pixels[(yy * w + xx) * c + k]) } }
                let want = s / Double((y1 - y0) * (x1 - x0))
                XCTAssertEqual(Double(got.pixels[(y * ow + x) * c + k]), want, accuracy: 1e-3 * max(1, want),
                               "\(w)x\(h)→\(ow)x\(oh) at \(x),\(y),\(k)")
            } } }
        }
    }

    func testNearestFollowsPillowsIndexRule() {
        XCTAssertEqual(Resize.nearestIndices(input: 10, output: 4), [1, 3, 6, 8])
        XCTAssertEqual(Resize.nearestIndices(input: 4, output: 8), [0, 0, 1, 1, 2, 2, 3, 3])
        XCTAssertEqual(Resize.nearestIndices(input: 5, output: 5), [0, 1, 2, 3, 4])
    }
}
