import Foundation

/// Small statistics used by dataset audits: Wilson intervals and Pearson's chi-square test of
/// independence (with Yates' correction on 2x2 tables, as scipy.stats.chi2_contingency does).
public enum Statistics {
    /// Wilson score 95% interval of a proportion k/n.
    public static func wilson(_ k: Int, _ n: Int, z: Double = 1.959963984540054) -> (Double, Double)? {
        guard n > 0 else { return nil }
        let p = Double(k) / Double(n), nn = Double(n)
        let centre = (p + z * z / (2 * nn)) / (1 + z * z / nn)
        let half = z / (1 + z * z / nn) * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot()
        return (max(0, centre - half), min(1, centre + half))
    }

    public struct ChiSquare: Sendable {
        public var statistic: Double
        public var degreesOfFreedom: Int
        public var pValue: Double
    }

    /// Test of independence of a contingency table (rows × columns of counts); empty rows/columns dropped.
    public static func chiSquare(_ table: [[Double]]) -> ChiSquare? {
        var t = table.filter { $0.reduce(0, +) > 0 }
        guard let width = t.first?.count else { return nil }
        let keep = (0..<width).filter { c in t.reduce(0) { $0 + $1[c] } > 0 }
        t = t.map { row in keep.map { row[$0] } }
        let rows = t.count, cols = keep.count
        guard rows >= 2, cols >= 2 else { return nil }
        let total = t.flatMap { $0 }.reduce(0, +)
        let rowSums = t.map { $0.reduce(0, +) }
        let colSums = (0..<cols).map { c in t.reduce(0) { $0 + $1[c] } }
        let dof = (rows - 1) * (cols - 1)
        var x2 = 0.0
        for r in 0..<rows {
            for c in 0..<cols {
                let expected = rowSums[r] * colSums[c] / total
                var diff = abs(t[r][c] - expected)
                if dof == 1 { diff = max(0, diff - min(0.5, diff)) }  // Yates, as scipy
                x2 += diff * diff / expected
            }
        }
        return ChiSquare(statistic: x2, degreesOfFreedom: dof, pValue: upperRegularizedGamma(Double(dof) / 2, x2 / 2))
    }

    /// Q(a, x) = Γ(a, x) / Γ(a): series below a + 1, continued fraction above (Numerical Recipes).
    public static func upperRegularizedGamma(_ a: Double, _ x: Double) -> Double {
        guard x > 0 else { return 1 }
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            var sum = 1 / a, term = 1 / a, n = a
            for _ in 0..<10_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-16 { break }
            }
            return max(0, 1 - sum * exp(logPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1..<10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return exp(logPrefix) * h
    }
}
