import Foundation
@testable import Imaging
import XCTest

/// Charts (ROC, precision–recall, reliability) have what a reader needs: axes with numbered
/// ticks, axis labels, a title and a legend naming every series, in SVG and in PNG.
final class ChartTests: XCTestCase {
    func chart() -> Chart {
        Chart(title: "ROC by sex", xLabel: "false positive rate", yLabel: "true positive rate",
              series: [Chart.Series(name: "F (n 120)", points: [(0, 0), (0.1, 0.6), (0.4, 0.9), (1, 1)]),
                       Chart.Series(name: "M <b>", points: [(0, 0), (0.3, 0.5), (1, 1)])],
              diagonal: "chance")
    }

    func testSVGHasTicksLabelsLegendAndEscapesText() {
        let svg = chart().svg()
        for tick in ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"] {
            XCTAssertEqual(svg.components(separatedBy: ">\(tick)</text>").count - 1, 2, "tick \(tick) on both axes")
        }
        for text in ["ROC by sex", "false positive rate", "true positive rate", "F (n 120)", "M &lt;b&gt;", "chance"] {
            XCTAssertTrue(svg.contains(">\(text)</"), text)
        }
        XCTAssertFalse(svg.contains("<b>"), "text from data is escaped")
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2, "one line per series")
        XCTAssertTrue(svg.contains("stroke-dasharray"), "the diagonal is dashed")
    }

    func testPNGDrawsAxesCurvesAndLegend() throws {
        let canvas = chart().raster(width: 720, height: 600)
        func pixel(_ x: Int, _ y: Int) -> (Float, Float, Float) {
            let p = (y * canvas.width + x) * 3
            return (canvas.pixels[p], canvas.pixels[p + 1], canvas.pixels[p + 2])
        }
        func count(_ colour: (Float, Float, Float), in xs: Range<Int>, _ ys: Range<Int>) -> Int {
            var n = 0
            for y in ys { for x in xs where pixel(x, y) == colour { n += 1 } }
            return n
        }
        XCTAssertGreaterThan(count(Chart.palette[0], in: 0..<720, 0..<600), 500, "first series drawn")
        XCTAssertGreaterThan(count(Chart.palette[1], in: 0..<720, 0..<600), 500, "second series drawn")
        XCTAssertGreaterThan(count((0, 0, 0), in: 0..<60, 100..<500), 100, "y tick labels and axis label on the left")
        XCTAssertGreaterThan(count((0, 0, 0), in: 100..<700, 550..<600), 100, "x tick labels and axis label underneath")
        XCTAssertGreaterThan(count((0, 0, 0), in: 300..<700, 380..<540), 100, "legend text, bottom right")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-chart-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try chart().png(to: path)
        let back = try PNGFile.read(path)
        XCTAssertEqual(back.width, 720)
        XCTAssertEqual(back.height, 600)
    }

    func testPixelFontAndTicks() {
        // "0" drawn at scale 1 reproduces its glyph.
        var canvas = RasterCanvas(width: 8, height: 9)
        canvas.text("0", x: 1, y: 1, scale: 1, colour: (0, 0, 0))
        let pixels = canvas.pixels
        var drawn: [UInt8] = []
        for gy in 0..<7 {
            var row: UInt8 = 0
            for gx in 0..<5 { row = row << 1 | (pixels[((gy + 1) * 8 + gx + 1) * 3] == 0 ? 1 : 0) }
            drawn.append(row)
        }
        XCTAssertEqual(drawn, PixelFont.glyph("0"))
        XCTAssertEqual(Ticks.niceCeiling(0.37), 0.5)
        XCTAssertEqual(Ticks.step(0.5, count: 4), 0.2)
        XCTAssertEqual(Ticks.values(0, 1, step: 0.2).map { Ticks.label($0, step: 0.2) }, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(Ticks.values(0.05, 0.95, step: 0.2).map { Ticks.label($0, step: 0.2) }, ["0.2", "0.4", "0.6", "0.8"])
    }
}
