import DICOM
import Foundation

/// A line chart — ROC and precision–recall curves, reliability diagrams — with a title, both axes
/// with numbered ticks and labels, a legend naming each series, and an optional diagonal (chance,
/// or perfect calibration). One description, two renderings: `svg` for HTML pages (text escaped)
/// and `png` for files (the pixel font: upper case).
public struct Chart: Sendable {
    /// One named polyline (optionally with a marker on each point: reliability bins).
    public struct Series: Sendable {
        public var name: String
        public var points: [(Double, Double)]
        public var markers: Bool
        public init(name: String, points: [(Double, Double)], markers: Bool = false) {
            self.name = name
            self.points = points
            self.markers = markers
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xRange: (Double, Double) = (0, 1)
    public var yRange: (Double, Double) = (0, 1)
    /// The y = x line, dashed grey, named in the legend.
    public var diagonal: String?
    public var series: [Series]
    /// Where the legend sits inside the plot: where the chart's curves usually leave room (ROC:
    /// bottom right; precision–recall: bottom left; reliability: top left).
    public enum Corner: Sendable { case topLeft, bottomLeft, bottomRight }
    public var legendCorner: Corner

    public init(title: String, xLabel: String, yLabel: String, series: [Series], diagonal: String? = nil,
                legendCorner: Corner = .bottomRight) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.diagonal = diagonal
        self.legendCorner = legendCorner
    }

    /// The legend box's top-left corner for a box of `w` × `h` inside `fr`, `margin` from its edges.
    func legendOrigin(_ fr: Frame, _ w: Int, _ h: Int, margin: Int) -> (Int, Int) {
        switch legendCorner {
        case .topLeft: return (fr.left + margin, fr.top + margin)
        case .bottomLeft: return (fr.left + margin, fr.bottom - h - margin)
        case .bottomRight: return (fr.right - w - margin, fr.bottom - h - margin)
        }
    }

    /// Series colours, in order (colour-blind safe: Okabe–Ito).
    public static let palette: [(Float, Float, Float)] = [
        (0.0, 0.447, 0.698), (0.835, 0.369, 0.0), (0.0, 0.620, 0.451), (0.800, 0.475, 0.655),
        (0.902, 0.624, 0.0), (0.337, 0.706, 0.914), (0.941, 0.894, 0.259), (0.0, 0.0, 0.0),
    ]

    static func hex(_ c: (Float, Float, Float)) -> String {
        String(format: "#%02x%02x%02x", Int(c.0 * 255 + 0.5), Int(c.1 * 255 + 0.5), Int(c.2 * 255 + 0.5))
    }

    /// Plot area and ticks for a canvas of `width` × `height`.
    struct Frame {
        let left: Int, right: Int, top: Int, bottom: Int
        let x: (Double, Double), y: (Double, Double)
        func px(_ v: Double) -> Double { Double(left) + (v - x.0) / (x.1 - x.0) * Double(right - left) }
        func py(_ v: Double) -> Double { Double(bottom) - (v - y.0) / (y.1 - y.0) * Double(bottom - top) }
        var xStep: Double { Ticks.step(x.1 - x.0, count: 5) }
        var yStep: Double { Ticks.step(y.1 - y.0, count: 5) }
    }

    func frame(width: Int, height: Int, scale: Int) -> Frame {
        Frame(left: 34 * scale, right: width - 10 * scale, top: 22 * scale, bottom: height - 30 * scale, x: xRange, y: yRange)
    }

    /// The legend's entries: each series, then the diagonal.
    var legend: [(String, (Float, Float, Float), Bool)] {
        series.enumerated().map { ($0.element.name, Self.palette[$0.offset % Self.palette.count], false) }
            + (diagonal.map { [($0, (0.55, 0.55, 0.55), true)] } ?? [])
    }

    /// Inline SVG (`width` × `height` CSS pixels); every text escaped.
    public func svg(width: Int = 360, height: Int = 300) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        let fr = frame(width: width, height: height, scale: 1)
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(esc(title))\" font-family=\"system-ui, sans-serif\">"
        s += "<text x=\"\(width / 2)\" y=\"14\" font-size=\"12\" font-weight=\"600\" text-anchor=\"middle\">\(esc(title))</text>"
        for v in Ticks.values(fr.x.0, fr.x.1, step: fr.xStep) {
            let x = f(fr.px(v))
            s += "<line x1=\"\(x)\" y1=\"\(fr.top)\" x2=\"\(x)\" y2=\"\(fr.bottom)\" stroke=\"#eaecf0\"/>"
            s += "<line x1=\"\(x)\" y1=\"\(fr.bottom)\" x2=\"\(x)\" y2=\"\(fr.bottom + 4)\" stroke=\"#344054\"/>"
            s += "<text x=\"\(x)\" y=\"\(fr.bottom + 14)\" font-size=\"9\" text-anchor=\"middle\">\(Ticks.label(v, step: fr.xStep))</text>"
        }
        for v in Ticks.values(fr.y.0, fr.y.1, step: fr.yStep) {
            let y = f(fr.py(v))
            s += "<line x1=\"\(fr.left)\" y1=\"\(y)\" x2=\"\(fr.right)\" y2=\"\(y)\" stroke=\"#eaecf0\"/>"
            s += "<line x1=\"\(fr.left - 4)\" y1=\"\(y)\" x2=\"\(fr.left)\" y2=\"\(y)\" stroke=\"#344054\"/>"
            s += "<text x=\"\(fr.left - 6)\" y=\"\(y)\" dy=\"3\" font-size=\"9\" text-anchor=\"end\">\(Ticks.label(v, step: fr.yStep))</text>"
        }
        s += "<rect x=\"\(fr.left)\" y=\"\(fr.top)\" width=\"\(fr.right - fr.left)\" height=\"\(fr.bottom - fr.top)\" fill=\"none\" stroke=\"#344054\"/>"
        s += "<text x=\"\((fr.left + fr.right) / 2)\" y=\"\(height - 4)\" font-size=\"10\" text-anchor=\"middle\">\(esc(xLabel))</text>"
        s += "<text transform=\"translate(10 \((fr.top + fr.bottom) / 2)) rotate(-90)\" font-size=\"10\" text-anchor=\"middle\">\(esc(yLabel))</text>"
        if diagonal != nil {
            let lo = max(fr.x.0, fr.y.0), hi = min(fr.x.1, fr.y.1)
            s += "<line x1=\"\(f(fr.px(lo)))\" y1=\"\(f(fr.py(lo)))\" x2=\"\(f(fr.px(hi)))\" y2=\"\(f(fr.py(hi)))\" stroke=\"#8c8c8c\" stroke-dasharray=\"4 3\"/>"
        }
        for (i, series) in self.series.enumerated() where !series.points.isEmpty {
            let colour = Self.hex(Self.palette[i % Self.palette.count])
            let points = series.points.map { "\(f(fr.px($0.0))),\(f(fr.py($0.1)))" }.joined(separator: " ")
            s += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"><title>\(esc(series.name))</title></polyline>"
            if series.markers {
                for p in series.points { s += "<circle cx=\"\(f(fr.px(p.0)))\" cy=\"\(f(fr.py(p.1)))\" r=\"3\" fill=\"\(colour)\"/>" }
            }
        }
        let entries = legend
        let longest = entries.map(\.0.count).max() ?? 0
        let boxWidth = min(fr.right - fr.left - 8, 30 + 6 * longest), boxHeight = 14 * entries.count + 6
        let (bx, by) = legendOrigin(fr, boxWidth, boxHeight, margin: 4)
        if !entries.isEmpty {
            s += "<rect x=\"\(bx)\" y=\"\(by)\" width=\"\(boxWidth)\" height=\"\(boxHeight)\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#d0d5dd\"/>"
        }
        for (i, (name, colour, dashed)) in entries.enumerated() {
            let y = by + 11 + 14 * i
            s += "<line x1=\"\(bx + 4)\" y1=\"\(y - 3)\" x2=\"\(bx + 20)\" y2=\"\(y - 3)\" stroke=\"\(Self.hex(colour))\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"4 3\"" : "")/>"
            s += "<text x=\"\(bx + 24)\" y=\"\(y)\" font-size=\"9\">\(esc(name))</text>"
        }
        return s + "</svg>"
    }

    /// The chart drawn on a raster (the pixel font at `scale`).
    public func raster(width: Int = 720, height: Int = 600, scale: Int = 2) -> RasterCanvas {
        var c = RasterCanvas(width: width, height: height)
        let fr = frame(width: width, height: height, scale: scale)
        let black: RasterCanvas.Colour = (0, 0, 0), axis: RasterCanvas.Colour = (0.2, 0.2, 0.2), grid: RasterCanvas.Colour = (0.92, 0.92, 0.92)
        func xi(_ v: Double) -> Int { Int(fr.px(v).rounded()) }
        func yi(_ v: Double) -> Int { Int(fr.py(v).rounded()) }
        c.text(title, x: width / 2 - RasterCanvas.textWidth(title, scale: scale) / 2, y: 6 * scale, scale: scale, colour: black)
        for v in Ticks.values(fr.x.0, fr.x.1, step: fr.xStep) {
            c.line((xi(v), fr.top), (xi(v), fr.bottom), colour: grid, thickness: 1)
            c.line((xi(v), fr.bottom), (xi(v), fr.bottom + 3 * scale), colour: axis, thickness: 1)
            let label = Ticks.label(v, step: fr.xStep)
            c.text(label, x: xi(v) - RasterCanvas.textWidth(label, scale: scale) / 2, y: fr.bottom + 5 * scale, scale: scale, colour: black)
        }
        for v in Ticks.values(fr.y.0, fr.y.1, step: fr.yStep) {
            c.line((fr.left, yi(v)), (fr.right, yi(v)), colour: grid, thickness: 1)
            c.line((fr.left - 3 * scale, yi(v)), (fr.left, yi(v)), colour: axis, thickness: 1)
            let label = Ticks.label(v, step: fr.yStep)
            c.text(label, x: fr.left - 5 * scale - RasterCanvas.textWidth(label, scale: scale), y: yi(v) - 3 * scale, scale: scale, colour: black)
        }
        c.rectangle(x0: fr.left, y0: fr.top, x1: fr.right, y1: fr.bottom, colour: axis)
        c.text(xLabel, x: (fr.left + fr.right) / 2 - RasterCanvas.textWidth(xLabel, scale: scale) / 2, y: height - 10 * scale,
               scale: scale, colour: black)
        c.verticalText(yLabel, x: 2 * scale, centreY: (fr.top + fr.bottom) / 2, scale: scale, colour: black)
        if diagonal != nil {
            let lo = max(fr.x.0, fr.y.0), hi = min(fr.x.1, fr.y.1)
            c.line((xi(lo), yi(lo)), (xi(hi), yi(hi)), colour: (0.55, 0.55, 0.55), thickness: 1 + scale / 2, dashed: true)
        }
        for (i, series) in self.series.enumerated() {
            let colour = Self.palette[i % Self.palette.count]
            for (a, b) in zip(series.points, series.points.dropFirst()) {
                c.line((xi(a.0), yi(a.1)), (xi(b.0), yi(b.1)), colour: colour, thickness: 1 + scale)
            }
            if series.markers { for p in series.points { c.line((xi(p.0), yi(p.1)), (xi(p.0), yi(p.1)), colour: colour, thickness: 3 + 2 * scale) } }
        }
        let entries = legend
        let longest = entries.map { RasterCanvas.textWidth($0.0, scale: scale) }.max() ?? 0
        let boxWidth = 16 * scale + longest, boxHeight = 10 * scale * entries.count + 4 * scale
        let (bx, by) = legendOrigin(fr, boxWidth, boxHeight, margin: 4 * scale)
        if !entries.isEmpty {
            for y in by...(by + boxHeight) { for x in bx...(bx + boxWidth) { c.set(x, y, (1, 1, 1)) } }
            c.rectangle(x0: bx, y0: by, x1: bx + boxWidth, y1: by + boxHeight, colour: (0.7, 0.7, 0.7))
        }
        for (i, (name, colour, dashed)) in entries.enumerated() {
            let y = by + 3 * scale + 10 * scale * i
            c.line((bx + 2 * scale, y + 3 * scale), (bx + 11 * scale, y + 3 * scale), colour: colour, thickness: 1 + scale, dashed: dashed)
            c.text(name, x: bx + 14 * scale, y: y, scale: scale, colour: black)
        }
        return c
    }

    /// Writes the raster rendering as an 8-bit RGB PNG.
    public func png(to path: String, width: Int = 720, height: Int = 600) throws {
        try PNGFile.write(raster(width: width, height: height).image, bitDepth: 8, to: path)
    }
}
