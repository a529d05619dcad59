import Foundation

/// Fits calibrators (see `Models.Calibrator`) on labelled scores.
public enum CalibratorFitting {
    public static func fit(_ method: String, scores: [Double], labels: [Int]) throws -> Calibrator {
        switch method {
        case "temperature": return .temperature(TemperatureScaling.fit(logits: scores.map(TemperatureScaling.logit), labels: labels))
        case "platt": return fitPlatt(scores, labels)
        case "isotonic": return fitIsotonic(scores, labels)
        default: throw CalibrationError(reason: "unknown method \(method) (temperature, platt, isotonic)")
        }
    }

    /// Newton–Raphson on the two-parameter logistic NLL.
    static func fitPlatt(_ scores: [Double], _ labels: [Int]) -> Calibrator {
        let z = scores.map(TemperatureScaling.logit)
        var a = 1.0, b = 0.0
        for _ in 0..<100 {
            var ga = 0.0, gb = 0.0, haa = 0.0, hab = 0.0, hbb = 0.0
            for (zi, yi) in zip(z, labels) {
                let p = 1 / (1 + exp(-(a * zi + b)))
                let r = p - Double(yi), w = p * (1 - p)
                ga += r * zi; gb += r
                haa += w * zi * zi; hab += w * zi; hbb += w
            }
            let det = haa * hbb - hab * hab
            guard abs(det) > 1e-300 else { break }
            let da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det
            a -= da; b -= db
            if abs(da) + abs(db) < 1e-14 { break }
        }
        return .platt(a: a, b: b)
    }

    /// Pool adjacent violators on labels ordered by score (ties pooled first, weights = counts).
    static func fitIsotonic(_ scores: [Double], _ labels: [Int]) -> Calibrator {
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var xs: [Double] = [], sums: [Double] = [], weights: [Double] = []
        for i in order {
            if let last = xs.last, last == scores[i] {
                sums[sums.count - 1] += Double(labels[i]); weights[weights.count - 1] += 1
            } else {
                xs.append(scores[i]); sums.append(Double(labels[i])); weights.append(1)
            }
        }
        // Blocks: (mean, weight, first x index, last x index)
        var blocks: [(mean: Double, weight: Double, first: Int, last: Int)] = []
        for i in xs.indices {
            blocks.append((sums[i] / weights[i], weights[i], i, i))
            while blocks.count > 1 && blocks[blocks.count - 2].mean > blocks[blocks.count - 1].mean {
                let b = blocks.removeLast(), a = blocks.removeLast()
                let w = a.weight + b.weight
                blocks.append(((a.mean * a.weight + b.mean * b.weight) / w, w, a.first, b.last))
            }
        }
        var y = [Double](repeating: 0, count: xs.count)
        for b in blocks { for i in b.first...b.last { y[i] = b.mean } }
        return .isotonic(x: xs, y: y)
    }
}

public struct CalibrationError: Error, CustomStringConvertible {
    public let reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Operating thresholds on calibrated probabilities, chosen among the distinct scores in one pass
/// over them, highest first (each threshold calls every score at or above it positive).
public enum OperatingPoint {
    /// Youden's J: the threshold maximising sensitivity + specificity − 1 (first of ties, highest threshold).
    public static func youden(scores: [Double], labels: [Int]) -> Double {
        var best = 0.5, bestJ = -Double.infinity
        sweep(scores, labels) { t, sensitivity, specificity in
            let j = (sensitivity ?? 0) + (specificity ?? 0) - 1
            if j > bestJ + 1e-15 { bestJ = j; best = t }
            return true
        }
        return best
    }

    /// The highest threshold whose sensitivity reaches `target`.
    public static func forSensitivity(_ target: Double, scores: [Double], labels: [Int]) -> Double {
        var found: Double?
        sweep(scores, labels) { t, sensitivity, _ in
            if (sensitivity ?? 0) >= target { found = t; return false }
            return true
        }
        return found ?? scores.min() ?? 0
    }

    /// Calls `visit(threshold, sensitivity, specificity)` for each distinct score, highest first,
    /// until it returns false; rates as `BinaryEvaluation.AtThreshold` computes them.
    static func sweep(_ scores: [Double], _ labels: [Int], _ visit: (Double, Double?, Double?) -> Bool) {
        let r = RankedScores(scores: scores, labels: labels)
        let p = r.positives, q = r.negatives
        var tp = 0, fp = 0
        for g in 0..<r.groups {
            tp += Int(r.positiveCount[g])
            fp += Int(r.negativeCount[g])
            let sensitivity = p > 0 ? Double(tp) / Double(p) : nil
            let specificity = q > 0 ? Double(q - fp) / Double(q) : nil
            if !visit(r.score[g], sensitivity, specificity) { return }
        }
    }
}
