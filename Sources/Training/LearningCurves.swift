import DICOM
import Foundation
import Imaging

/// Draws `curves.png`: two panels sharing the epoch axis — cross-entropy loss (top) and AUROC
/// (bottom) —, each with the training curve (dark blue) and the validation curve (orange), axes
/// with numbered ticks, axis labels, a legend, and the kept epoch as a dashed grey line. Both
/// curves are measured the same way at each epoch's end (no dropout), so a gap between them is
/// the overfitting the card warns about. Text is drawn with a built-in 5×7 pixel font (upper case).
enum LearningCurves {
    static let width = 800, height = 640
    static let trainColour: (Float, Float, Float) = (0.1, 0.2, 0.6)
    static let validationColour: (Float, Float, Float) = (0.95, 0.5, 0.1)

    static func png(_ curve: [Trainer.Epoch], bestEpoch: Int, to path: String) throws {
        try PNGFile.write(image(curve, bestEpoch: bestEpoch), bitDepth: 8, to: path)
    }

    static func image(_ curve: [Trainer.Epoch], bestEpoch: Int) -> Image {
        var canvas = Canvas(width: width, height: height)
        canvas.text("LEARNING CURVES", x: 80, y: 12, scale: 2, colour: (0, 0, 0))
        canvas.text("KEPT EPOCH \(bestEpoch)", x: width - 30 - Canvas.textWidth("KEPT EPOCH \(bestEpoch)", scale: 2), y: 12, scale: 2,
                    colour: (0.4, 0.4, 0.4))
        let epochs = (curve.first?.epoch ?? 1, max(curve.last?.epoch ?? 1, (curve.first?.epoch ?? 1) + 1))
        let losses = curve.flatMap { [$0.trainLoss] + ($0.validationLoss.map { [$0] } ?? []) }.map(Double.init).filter(\.isFinite)
        let lossTop = Ticks.niceCeiling(max(losses.max() ?? 1, 1e-3))
        let lossPanel = Panel(left: 90, right: width - 30, top: 50, bottom: 290, x: epochs, y: (0, lossTop))
        let aurocPanel = Panel(left: 90, right: width - 30, top: 350, bottom: 570, x: epochs, y: (0, 1))
        for (panel, label) in [(lossPanel, "LOSS"), (aurocPanel, "AUROC")] {
            canvas.axes(panel, yLabel: label)
            canvas.dashedVertical(x: panel.px(Double(bestEpoch)), from: panel.top, to: panel.bottom, colour: (0.6, 0.6, 0.6))
        }
        canvas.text("EPOCH", x: (aurocPanel.left + aurocPanel.right) / 2 - Canvas.textWidth("EPOCH", scale: 2) / 2,
                    y: aurocPanel.bottom + 34, scale: 2, colour: (0, 0, 0))
        let epochsOf = curve.map { Double($0.epoch) }
        canvas.series(lossPanel, epochsOf, curve.map { Double($0.trainLoss) }, trainColour)
        canvas.series(lossPanel, epochsOf, curve.map { $0.validationLoss.map(Double.init) }, validationColour)
        canvas.series(aurocPanel, epochsOf, curve.map(\.trainAUROC), trainColour)
        canvas.series(aurocPanel, epochsOf, curve.map(\.validationAUROC), validationColour)
        if !curve.contains(where: { $0.trainAUROC != nil || $0.validationAUROC != nil }) {
            canvas.text("NO AUROC: NOT A TWO-CLASS HEAD", x: aurocPanel.left + 20, y: aurocPanel.top + 20, scale: 2, colour: (0.4, 0.4, 0.4))
        }
        // Legend, top right of the loss panel.
        let hasValidation = curve.contains { $0.validationLoss != nil }
        let entries: [(String, (Float, Float, Float))] = [("TRAIN", trainColour)]
            + [(hasValidation ? "VALIDATION" : "VALIDATION: NONE", validationColour)]
        let legendWidth = 46 + entries.map { Canvas.textWidth($0.0, scale: 2) }.max()!
        let lx = lossPanel.right - legendWidth - 10, ly = lossPanel.top + 10
        canvas.rectangle(x0: lx - 8, y0: ly - 8, x1: lx + legendWidth, y1: ly + 22 * entries.count + 2, colour: (0.7, 0.7, 0.7))
        for (i, (label, colour)) in entries.enumerated() {
            let y = ly + 22 * i + 7
            for x in lx..<(lx + 30) { for d in -1...1 { canvas.set(x, y + d, colour) } }
            canvas.text(label, x: lx + 38, y: y - 7, scale: 2, colour: (0, 0, 0))
        }
        return Image(width: width, height: height, channels: 3, pixels: canvas.pixels, photometric: "RGB")
    }

    struct Panel {
        let left: Int, right: Int, top: Int, bottom: Int
        let x: (Int, Int), y: (Double, Double)
        func px(_ v: Double) -> Int { left + Int(((v - Double(x.0)) / Double(x.1 - x.0) * Double(right - left)).rounded()) }
        func py(_ v: Double) -> Int { bottom - Int(((v - y.0) / (y.1 - y.0) * Double(bottom - top)).rounded()) }
    }

    enum Ticks {
        /// The smallest 1, 2 or 5 × 10^k at or above `v`.
        static func niceCeiling(_ v: Double) -> Double {
            let p = pow(10, floor(log10(v)))
            for m in [1.0, 2, 5, 10] where m * p >= v * (1 - 1e-9) { return m * p }
            return 10 * p
        }

        /// A 1/2/5 step giving about `count` intervals over `span`.
        static func step(_ span: Double, count: Int) -> Double {
            let raw = span / Double(count), p = pow(10, floor(log10(raw)))
            for m in [1.0, 2, 5, 10] where m * p >= raw * (1 - 1e-9) { return m * p }
            return 10 * p
        }

        static func label(_ v: Double, step: Double) -> String {
            let decimals = max(0, -Int(floor(log10(step) + 1e-9)))
            return String(format: "%.\(decimals)f", v)
        }
    }

    struct Canvas {
        let width: Int, height: Int
        var pixels: [Float]

        init(width: Int, height: Int) {
            self.width = width
            self.height = height
            pixels = [Float](repeating: 1, count: width * height * 3)
        }

        mutating func set(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let p = (y * width + x) * 3
            pixels[p] = c.0; pixels[p + 1] = c.1; pixels[p + 2] = c.2
        }

        mutating func rectangle(x0: Int, y0: Int, x1: Int, y1: Int, colour: (Float, Float, Float)) {
            for x in x0...x1 { set(x, y0, colour); set(x, y1, colour) }
            for y in y0...y1 { set(x0, y, colour); set(x1, y, colour) }
        }

        mutating func dashedVertical(x: Int, from top: Int, to bottom: Int, colour: (Float, Float, Float)) {
            for y in top...bottom where (y - top) % 8 < 4 { set(x, y, colour) }
        }

        mutating func axes(_ p: Panel, yLabel: String) {
            let axis: (Float, Float, Float) = (0.2, 0.2, 0.2), grid: (Float, Float, Float) = (0.9, 0.9, 0.9)
            let yStep = Ticks.step(p.y.1 - p.y.0, count: 4)
            var v = p.y.0
            while v <= p.y.1 + yStep * 1e-6 {
                let y = p.py(v)
                for x in p.left...p.right { set(x, y, grid) }
                for x in (p.left - 6)..<p.left { set(x, y, axis) }
                let label = Ticks.label(v, step: yStep)
                text(label, x: p.left - 10 - Canvas.textWidth(label, scale: 2), y: y - 7, scale: 2, colour: (0, 0, 0))
                v += yStep
            }
            let span = p.x.1 - p.x.0
            let xStep = max(1, Int(Ticks.step(Double(span), count: 8)))
            var e = (p.x.0 / xStep) * xStep
            if e < p.x.0 { e += xStep }
            while e <= p.x.1 {
                let x = p.px(Double(e))
                for y in p.bottom..<(p.bottom + 6) { set(x, y, axis) }
                let label = String(e)
                text(label, x: x - Canvas.textWidth(label, scale: 2) / 2, y: p.bottom + 10, scale: 2, colour: (0, 0, 0))
                e += xStep
            }
            for x in p.left...p.right { set(x, p.bottom, axis) }
            for y in p.top...p.bottom { set(p.left, y, axis) }
            verticalText(yLabel, x: 12, centreY: (p.top + p.bottom) / 2, scale: 2, colour: (0, 0, 0))
        }

        /// A polyline through the finite points (gaps where a value is missing), with a marker on
        /// each point when there are few.
        mutating func series(_ p: Panel, _ xs: [Double], _ ys: [Double?], _ colour: (Float, Float, Float)) {
            var previous: (Int, Int)?
            let markers = xs.count <= 40
            for (x, y) in zip(xs, ys) {
                guard let y, y.isFinite else { previous = nil; continue }
                let point = (p.px(x), p.py(min(max(y, p.y.0), p.y.1)))
                if let q = previous {
                    let steps = max(abs(point.0 - q.0), abs(point.1 - q.1), 1)
                    for s in 0...steps {
                        let px = q.0 + (point.0 - q.0) * s / steps, py = q.1 + (point.1 - q.1) * s / steps
                        for d in -1...1 { set(px, py + d, colour) }
                    }
                }
                if markers { for dx in -3...3 { for dy in -3...3 { set(point.0 + dx, point.1 + dy, colour) } } }
                previous = point
            }
        }

        static func textWidth(_ s: String, scale: Int) -> Int { max(0, s.count * 6 * scale - scale) }

        mutating func text(_ s: String, x: Int, y: Int, scale: Int, colour: (Float, Float, Float)) {
            for (i, ch) in s.uppercased().enumerated() {
                let rows = Font.glyph(ch)
                for (gy, row) in rows.enumerated() {
                    for gx in 0..<5 where row & (1 << (4 - gx)) != 0 {
                        for sy in 0..<scale { for sx in 0..<scale { set(x + (i * 6 + gx) * scale + sx, y + gy * scale + sy, colour) } }
                    }
                }
            }
        }

        /// Text read bottom to top (rotated a quarter turn anticlockwise), centred on `centreY`.
        mutating func verticalText(_ s: String, x: Int, centreY: Int, scale: Int, colour: (Float, Float, Float)) {
            let start = centreY + Canvas.textWidth(s, scale: scale) / 2
            for (i, ch) in s.uppercased().enumerated() {
                for (gy, row) in Font.glyph(ch).enumerated() {
                    for gx in 0..<5 where row & (1 << (4 - gx)) != 0 {
                        for sy in 0..<scale { for sx in 0..<scale { set(x + gy * scale + sy, start - (i * 6 + gx) * scale - sx, colour) } }
                    }
                }
            }
        }
    }

    /// 5×7 glyphs, one 5-bit row each (most significant bit on the left).
    enum Font {
        static func glyph(_ c: Character) -> [UInt8] { table[c] ?? table["?"]! }

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
                " ": "00000 00000 00000 00000 00000 00000 00000",
            ]
            return rows.mapValues { $0.split(separator: " ").map { UInt8($0, radix: 2)! } }
        }()
    }
}
