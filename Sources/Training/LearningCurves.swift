import DICOM
import Imaging

/// Draws training and validation loss per epoch as a small PNG (train dark blue, validation
/// orange, best epoch as a grey vertical line).
enum LearningCurves {
    static func png(_ curve: [Trainer.Epoch], bestEpoch: Int, to path: String) throws {
        let (w, h, margin) = (640, 360, 30)
        var pixels = [Float](repeating: 1, count: w * h * 3)
        func set(_ x: Int, _ y: Int, _ r: Float, _ g: Float, _ b: Float) {
            guard x >= 0, x < w, y >= 0, y < h else { return }
            let p = (y * w + x) * 3
            pixels[p] = r; pixels[p + 1] = g; pixels[p + 2] = b
        }
        let values = curve.flatMap { [$0.trainLoss] + ($0.validationLoss.map { [$0] } ?? []) }.filter(\.isFinite)
        let top = max(values.max() ?? 1, 1e-6)
        let n = max(curve.count - 1, 1)
        func point(_ i: Int, _ v: Float) -> (Int, Int) {
            (margin + i * (w - 2 * margin) / n, h - margin - Int(v / top * Float(h - 2 * margin)))
        }
        for x in margin..<(w - margin) { set(x, h - margin, 0.3, 0.3, 0.3) }
        for y in margin..<(h - margin) { set(margin, y, 0.3, 0.3, 0.3) }
        let bx = point(bestEpoch - 1, 0).0
        for y in margin..<(h - margin) where y % 4 < 2 { set(bx, y, 0.6, 0.6, 0.6) }
        func line(_ series: [Float?], _ color: (Float, Float, Float)) {
            var previous: (Int, Int)?
            for (i, v) in series.enumerated() {
                guard let v, v.isFinite else { previous = nil; continue }
                let p = point(i, v)
                if let q = previous {
                    let steps = max(abs(p.0 - q.0), abs(p.1 - q.1), 1)
                    for s in 0...steps {
                        let x = q.0 + (p.0 - q.0) * s / steps, y = q.1 + (p.1 - q.1) * s / steps
                        for d in -1...1 { set(x, y + d, color.0, color.1, color.2) }
                    }
                }
                previous = p
            }
        }
        line(curve.map { $0.trainLoss }, (0.1, 0.2, 0.6))
        line(curve.map { $0.validationLoss }, (0.95, 0.5, 0.1))
        try PNGFile.write(Image(width: w, height: h, channels: 3, pixels: pixels, photometric: "RGB"), bitDepth: 8, to: path)
    }
}
