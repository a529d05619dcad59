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

    /// The temperature T in [0.01, 100] minimising the NLL of sigmoid(logit / T). The NLL is convex
    /// in β = 1/T (a one-feature logistic regression without intercept), so its derivative is
    /// increasing: Newton steps on β, kept inside a bracket that bisection shrinks whenever a step
    /// would leave it, converge in a handful of O(n) passes. The minimiser over the range is the
    /// unconstrained one clipped to it, as a bounded scalar search finds.
    public static func fit(logits: [Double], labels: [Int]) -> Double {
        let ys = labels.map { Double($0 == 1 ? 1 : 0) }
        // First and second derivative of the mean NLL in β.
        func derivatives(_ beta: Double) -> (Double, Double) {
            var g = 0.0, h = 0.0
            for (z, y) in zip(logits, ys) {
                let u = beta * z
                let p = u >= 0 ? 1 / (1 + exp(-u)) : exp(u) / (1 + exp(u))
                g += (p - y) * z
                h += p * (1 - p) * z * z
            }
            return (g, h)
        }
        var lo = 1 / 100.0, hi = 1 / 0.01
        guard !logits.isEmpty else { return 1 }
        if derivatives(lo).0 >= 0 { return 1 / lo }
        if derivatives(hi).0 <= 0 { return 1 / hi }
        var beta = 1.0
        for _ in 0..<100 {
            let (g, h) = derivatives(beta)
            if g > 0 { hi = beta } else if g < 0 { lo = beta } else { break }
            var next = h > 0 ? beta - g / h : .nan
            if !(next > lo && next < hi) { next = (lo + hi) / 2 }
            let step = abs(next - beta)
            beta = next
            if step <= 1e-15 * beta || hi - lo <= 1e-15 * beta { break }
        }
        return 1 / beta
    }

    public static func apply(_ s: Double, temperature: Double) -> Double { 1 / (1 + exp(-logit(s) / temperature)) }
}
