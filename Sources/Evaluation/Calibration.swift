import Foundation

/// Calibration of binary scores: reliability bins, expected and maximum calibration error, and
/// temperature scaling fitted by minimising the negative log-likelihood (Guo et al., 2017).
public struct CalibrationBins: Sendable {
    public struct Bin: Sendable {
        public var lower: Double, upper: Double
        public var count: Int
        public var meanScore: Double?
        public var meanLabel: Double?
    }

    public let bins: [Bin]
    public let n: Int

    /// `count` equal-width bins over [0, 1] (a score of 1 falls in the last bin), or equal-mass bins.
    public init(_ e: BinaryEvaluation, count: Int = 15, equalMass: Bool = false) {
        n = e.n
        var edges: [Double]
        if equalMass {
            let sorted = e.scores.sorted()
            edges = (0...count).map { k in k == 0 ? 0 : k == count ? 1 : sorted[min(sorted.count - 1, k * sorted.count / count)] }
        } else {
            edges = (0...count).map { Double($0) / Double(count) }
        }
        var members = [[Int]](repeating: [], count: count)
        for (i, s) in e.scores.enumerated() {
            var b = equalMass ? (edges.lastIndex { $0 <= s } ?? 0) : Int(s * Double(count))
            b = min(max(b, 0), count - 1)
            members[b].append(i)
        }
        bins = (0..<count).map { b in
            let m = members[b]
            return Bin(lower: edges[b], upper: edges[b + 1], count: m.count,
                       meanScore: m.isEmpty ? nil : m.map { e.scores[$0] }.reduce(0, +) / Double(m.count),
                       meanLabel: m.isEmpty ? nil : Double(m.map { e.labels[$0] }.reduce(0, +)) / Double(m.count))
        }
    }

    /// Σ over bins |mean label − mean score| × bin share.
    public var ece: Double {
        bins.reduce(0) { acc, b in
            guard let s = b.meanScore, let y = b.meanLabel else { return acc }
            return acc + abs(y - s) * Double(b.count) / Double(n)
        }
    }

    /// Largest |mean label − mean score| over non-empty bins.
    public var mce: Double {
        bins.compactMap { b in b.meanScore.flatMap { s in b.meanLabel.map { abs($0 - s) } } }.max() ?? 0
    }
}

public enum TemperatureScaling {
    /// logit = log(s / (1 − s)), scores clipped away from 0 and 1.
    public static func logit(_ s: Double) -> Double { Calibrator.logit(s) }

    static func nll(_ t: Double, _ logits: [Double], _ labels: [Int]) -> Double {
        zip(logits, labels).map { z, y in
            let u = z / t
            // log(1 + e^u) stably
            let softplus = u > 0 ? u + log1p(exp(-u)) : log1p(exp(u))
            return softplus - (y == 1 ? u : 0)
        }.reduce(0, +) / Double(logits.count)
    }

    /// The temperature T > 0 minimising the NLL of sigmoid(logit / T): golden-section search on log T.
    public static func fit(logits: [Double], labels: [Int]) -> Double {
        var a = log(0.01), b = log(100.0)
        let r = (5.0.squareRoot() - 1) / 2
        var c = b - r * (b - a), d = a + r * (b - a)
        var fc = nll(exp(c), logits, labels), fd = nll(exp(d), logits, labels)
        for _ in 0..<200 {
            if fc < fd { b = d; d = c; fd = fc; c = b - r * (b - a); fc = nll(exp(c), logits, labels) }
            else { a = c; c = d; fc = fd; d = a + r * (b - a); fd = nll(exp(d), logits, labels) }
            if b - a < 1e-13 { break }
        }
        return exp((a + b) / 2)
    }

    public static func apply(_ s: Double, temperature: Double) -> Double { 1 / (1 + exp(-logit(s) / temperature)) }
}
