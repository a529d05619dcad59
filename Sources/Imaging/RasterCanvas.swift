import DICOM
import Foundation

/// An RGB raster to draw charts on (white, samples in [0, 1]): points, lines, rectangles and text
/// in a built-in 5×7 pixel font (upper case), so PNG charts need no font files. `image` hands it
/// to `PNGFile.write`.
public struct RasterCanvas {
    public typealias Colour = (Float, Float, Float)
    public let width: Int, height: Int
    public private(set) var pixels: [Float]

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [Float](repeating: 1, count: width * height * 3)
    }

    public var image: Image { Image(width: width, height: height, channels: 3, pixels: pixels, photometric: "RGB") }

    public mutating func set(_ x: Int, _ y: Int, _ c: Colour) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let p = (y * width + x) * 3
        pixels[p] = c.0; pixels[p + 1] = c.1; pixels[p + 2] = c.2
    }

    public mutating func rectangle(x0: Int, y0: Int, x1: Int, y1: Int, colour: Colour) {
        for x in x0...x1 { set(x, y0, colour); set(x, y1, colour) }
        for y in y0...y1 { set(x0, y, colour); set(x1, y, colour) }
    }

    public mutating func dashedVertical(x: Int, from top: Int, to bottom: Int, colour: Colour) {
        for y in top...bottom where (y - top) % 8 < 4 { set(x, y, colour) }
    }

    /// A straight line `thickness` pixels wide (dashed: drawn 4 of every 8 steps).
    public mutating func line(_ a: (Int, Int), _ b: (Int, Int), colour: Colour, thickness: Int = 3, dashed: Bool = false) {
        let steps = max(abs(b.0 - a.0), abs(b.1 - a.1), 1)
        let r = thickness / 2
        for s in 0...steps where !dashed || s % 8 < 4 {
            let x = a.0 + (b.0 - a.0) * s / steps, y = a.1 + (b.1 - a.1) * s / steps
            for dx in -r...r { for dy in -r...r { set(x + dx, y + dy, colour) } }
        }
    }

    public static func textWidth(_ s: String, scale: Int) -> Int { max(0, s.count * 6 * scale - scale) }

    public mutating func text(_ s: String, x: Int, y: Int, scale: Int, colour: Colour) {
        for (i, ch) in s.uppercased().enumerated() {
            let rows = PixelFont.glyph(ch)
            for (gy, row) in rows.enumerated() {
                for gx in 0..<5 where row & (1 << (4 - gx)) != 0 {
                    for sy in 0..<scale { for sx in 0..<scale { set(x + (i * 6 + gx) * scale + sx, y + gy * scale + sy, colour) } }
                }
            }
        }
    }

    /// Text read bottom to top (rotated a quarter turn anticlockwise), centred on `centreY`.
    public mutating func verticalText(_ s: String, x: Int, centreY: Int, scale: Int, colour: Colour) {
        let start = centreY + RasterCanvas.textWidth(s, scale: scale) / 2
        for (i, ch) in s.uppercased().enumerated() {
            for (gy, row) in PixelFont.glyph(ch).enumerated() {
                for gx in 0..<5 where row & (1 << (4 - gx)) != 0 {
                    for sy in 0..<scale { for sx in 0..<scale { set(x + gy * scale + sy, start - (i * 6 + gx) * scale - sx, colour) } }
                }
            }
        }
    }
}

/// Axis ticks at 1, 2 or 5 × 10^k.
public enum Ticks {
    /// The smallest 1, 2 or 5 × 10^k at or above `v`.
    public static func niceCeiling(_ v: Double) -> Double {
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2, 5, 10] where m * p >= v * (1 - 1e-9) { return m * p }
        return 10 * p
    }

    /// A 1/2/5 step giving about `count` intervals over `span`.
    public static func step(_ span: Double, count: Int) -> Double {
        let raw = span / Double(count), p = pow(10, floor(log10(raw)))
        for m in [1.0, 2, 5, 10] where m * p >= raw * (1 - 1e-9) { return m * p }
        return 10 * p
    }

    /// The tick values from `lower` to `upper` (inclusive) at `step`.
    public static func values(_ lower: Double, _ upper: Double, step: Double) -> [Double] {
        let first = Int((lower / step - 1e-6).rounded(.up)), last = Int((upper / step + 1e-6).rounded(.down))
        return first <= last ? (first...last).map { Double($0) * step } : []
    }

    /// `v` with as many decimals as `step` needs.
    public static func label(_ v: Double, step: Double) -> String {
        let decimals = max(0, -Int(floor(log10(step) + 1e-9)))
        return String(format: "%.\(decimals)f", v)
    }
}

/// 5×7 glyphs, one 5-bit row each (most significant bit on the left); unknown characters draw "?".
public enum PixelFont {
    public static func glyph(_ c: Character) -> [UInt8] { table[c] ?? table["?"]! }

    static let table: [Character: [UInt8]] = {
        let rows: [Character: String] = [
            "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
            "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11111 00010 00100 00010 00001 10001 01110",
            "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
            "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
            "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
            "A": "01110 10001 10001 11111 10001 10001 10001", "B": "11110 10001 10001 11110 10001 10001 11110",
            "C": "01110 10001 10000 10000 10000 10001 01110", "D": "11100 10010 10001 10001 10001 10010 11100",
            "E": "11111 10000 10000 11110 10000 10000 11111", "F": "11111 10000 10000 11110 10000 10000 10000",
            "G": "01110 10001 10000 10111 10001 10001 01111", "H": "10001 10001 10001 11111 10001 10001 10001",
            "I": "01110 00100 00100 00100 00100 00100 01110", "J": "00111 00010 00010 00010 00010 10010 01100",
            "K": "10001 10010 10100 11000 10100 10010 10001", "L": "10000 10000 10000 10000 10000 10000 11111",
            "M": "10001 11011 10101 10101 10001 10001 10001", "N": "10001 10001 11001 10101 10011 10001 10001",
            "O": "01110 10001 10001 10001 10001 10001 01110", "P": "11110 10001 10001 11110 10000 10000 10000",
            "Q": "01110 10001 10001 10001 10101 10010 01101", "R": "11110 10001 10001 11110 10100 10010 10001",
            "S": "01111 10000 10000 01110 00001 00001 11110", "T": "11111 00100 00100 00100 00100 00100 00100",
            "U": "10001 10001 10001 10001 10001 10001 01110", "V": "10001 10001 10001 10001 10001 01010 00100",
            "W": "10001 10001 10001 10101 10101 10101 01010", "X": "10001 10001 01010 00100 01010 10001 10001",
            "Y": "10001 10001 10001 01010 00100 00100 00100", "Z": "11111 00001 00010 00100 01000 10000 11111",
            ".": "00000 00000 00000 00000 00000 01100 01100", "-": "00000 00000 00000 11111 00000 00000 00000",
            "(": "00010 00100 01000 01000 01000 00100 00010", ")": "01000 00100 00010 00010 00010 00100 01000",
            ":": "00000 01100 01100 00000 01100 01100 00000", ",": "00000 00000 00000 00000 01100 00100 01000",
            "/": "00000 00001 00010 00100 01000 10000 00000", "=": "00000 00000 11111 00000 11111 00000 00000",
            "%": "11000 11001 00010 00100 01000 10011 00011", "?": "01110 10001 00001 00010 00100 00000 00100",
            "+": "00000 00100 00100 11111 00100 00100 00000", "&": "01100 10010 10100 01000 10101 10010 01101",
            "_": "00000 00000 00000 00000 00000 00000 11111", "<": "00010 00100 01000 10000 01000 00100 00010",
            ">": "01000 00100 00010 00001 00010 00100 01000", " ": "00000 00000 00000 00000 00000 00000 00000",
        ]
        return rows.mapValues { $0.split(separator: " ").map { UInt8($0, radix: 2)! } }
    }()
}
