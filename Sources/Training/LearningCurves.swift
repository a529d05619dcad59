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
        var canvas = RasterCanvas(width: width, height: height)
        canvas.text("LEARNING CURVES", x: 80, y: 12, scale: 2, colour: (0, 0, 0))
        canvas.text("KEPT EPOCH \(bestEpoch)", x: width - 30 - RasterCanvas.textWidth("KEPT EPOCH \(bestEpoch)", scale: 2), y: 12, scale: 2,
                    colour: (0.4, 0.4, 0.4))
        let epochs = (curve.first?.epoch ?? 1, max(curve.last?.epoch ?? 1, (curve.first?.epoch ?? 1) + 1))
        let losses = curve.flatMap { [$0.trainLoss] + ($0.validationLoss.map { [$0] } ?? []) }.map(Double.init).filter(\.isFinite)
        let lossTop = Ticks.niceCeiling(max(losses.max() ?? 1, 1e-3))
        let lossPanel = LearningCurves.Panel(left: 90, right: width - 30, top: 50, bottom: 290, x: epochs, y: (0, lossTop))
        let aurocPanel = LearningCurves.Panel(left: 90, right: width - 30, top: 350, bottom: 570, x: epochs, y: (0, 1))
        for (panel, label) in [(lossPanel, "LOSS"), (aurocPanel, "AUROC")] {
            canvas.axes(panel, yLabel: label)
            canvas.dashedVertical(x: panel.px(Double(bestEpoch)), from: panel.top, to: panel.bottom, colour: (0.6, 0.6, 0.6))
        }
        canvas.text("EPOCH", x: (aurocPanel.left + aurocPanel.right) / 2 - RasterCanvas.textWidth("EPOCH", scale: 2) / 2,
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
        let legendWidth = 46 + entries.map { RasterCanvas.textWidth($0.0, scale: 2) }.max()!
        let lx = lossPanel.right - legendWidth - 10, ly = lossPanel.top + 10
        let legendBottom: Int = ly + 22 * entries.count + 2, frameColour: RasterCanvas.Colour = (0.7, 0.7, 0.7)
        canvas.rectangle(x0: lx - 8, y0: ly - 8, x1: lx + legendWidth, y1: legendBottom, colour: frameColour)
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
}

/// The learning curves' panels drawn on Imaging's raster canvas.
extension RasterCanvas {
    mutating func axes(_ p: LearningCurves.Panel, yLabel: String) {
        let axis: (Float, Float, Float) = (0.2, 0.2, 0.2), grid: (Float, Float, Float) = (0.9, 0.9, 0.9)
        let yStep = Ticks.step(p.y.1 - p.y.0, count: 4)
        var v = p.y.0
        while v <= p.y.1 + yStep * 1e-6 {
            let y = p.py(v)
            for x in p.left...p.right { set(x, y, grid) }
            for x in (p.left - 6)..<p.left { set(x, y, axis) }
            let label = Ticks.label(v, step: yStep)
            text(label, x: p.left - 10 - RasterCanvas.textWidth(label, scale: 2), y: y - 7, scale: 2, colour: (0, 0, 0))
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
            text(label, x: x - RasterCanvas.textWidth(label, scale: 2) / 2, y: p.bottom + 10, scale: 2, colour: (0, 0, 0))
            e += xStep
        }
        for x in p.left...p.right { set(x, p.bottom, axis) }
        for y in p.top...p.bottom { set(p.left, y, axis) }
        verticalText(yLabel, x: 12, centreY: (p.top + p.bottom) / 2, scale: 2, colour: (0, 0, 0))
    }

    /// A polyline through the finite points (gaps where a value is missing), with a marker on
    /// each point when there are few.
    mutating func series(_ p: LearningCurves.Panel, _ xs: [Double], _ ys: [Double?], _ colour: (Float, Float, Float)) {
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
}
