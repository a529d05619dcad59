import Foundation

/// Binary scores sorted once, highest first, and reduced to their tie groups (runs of equal
/// scores): each group's score, how many positives and negatives it holds, and the Brier and
/// log-loss terms of a positive and of a negative at that score. Every threshold metric, the AUROC,
/// average precision, DeLong's variance, calibration bins and each bootstrap replicate are then one
/// pass over the groups with a positive and a negative count per group — the data's own counts for
/// point estimates, a replicate's draws for the bootstrap — so nothing is sorted twice: point
/// estimates in O(n log n), a replicate in O(n) draws and one O(groups) pass.
public struct RankedScores: Sendable {
    /// Items in total, and how many are positive (label 1) and negative.
    public let n: Int
    public let positives: Int
    public var negatives: Int { n - positives }
    /// Tie group g's score (descending) and its positives and negatives.
    let score: [Double]
    let positiveCount: [Int32]
    let negativeCount: [Int32]
    /// Squared error and log loss (probabilities clipped to [ε, 1 − ε], as scikit-learn) of a
    /// positive and of a negative in group g.
    let brierPositive: [Double]
    let brierNegative: [Double]
    let logLossPositive: [Double]
    let logLossNegative: [Double]
    /// The group of each positive (in original order) and of each negative: a stratified bootstrap
    /// draws "the j-th positive" and counts it in its group.
    let groupOfPositive: [Int32]
    let groupOfNegative: [Int32]

    public init(scores: [Double], labels: [Int]) {
        precondition(scores.count == labels.count, "one label per score")
        n = scores.count
        var pairs = [(Double, Int32)](unsafeUninitializedCapacity: n) { buffer, count in
            for i in 0..<scores.count { buffer[i] = (scores[i], Int32(i)) }
            count = scores.count
        }
        pairs.sort { $0.0 > $1.0 }
        var score: [Double] = [], pc: [Int32] = [], nc: [Int32] = []
        var groupOf = [Int32](repeating: 0, count: n)
        for (s, i) in pairs {
            if score.last != s {
                score.append(s)
                pc.append(0)
                nc.append(0)
            }
            let g = score.count - 1
            if labels[Int(i)] == 1 { pc[g] += 1 } else { nc[g] += 1 }
            groupOf[Int(i)] = Int32(g)
        }
        self.score = score
        positiveCount = pc
        negativeCount = nc
        let eps = Double.ulpOfOne
        brierPositive = score.map { ($0 - 1) * ($0 - 1) }
        brierNegative = score.map { $0 * $0 }
        logLossPositive = score.map { -log(min(max($0, eps), 1 - eps)) }
        logLossNegative = score.map { -log(1 - min(max($0, eps), 1 - eps)) }
        var pos: [Int32] = [], neg: [Int32] = []
        for i in 0..<n {
            if labels[i] == 1 { pos.append(groupOf[i]) } else { neg.append(groupOf[i]) }
        }
        positives = pos.count
        groupOfPositive = pos
        groupOfNegative = neg
    }

    /// Number of tie groups (distinct scores).
    public var groups: Int { score.count }

    /// Groups whose score is at or above `threshold`: a prefix of the order.
    func groups(atOrAbove threshold: Double) -> Int {
        var lo = 0, hi = score.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if score[mid] >= threshold { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Where the groups change equal-width calibration bin (of `bins` over [0, 1], a score of 1
    /// in the last, as `CalibrationBins` assigns them): group indices, first 0, last `groups`.
    func binBoundaries(_ bins: Int) -> [Int] {
        var out = [0]
        for g in 1..<max(score.count, 1) where Self.bin(score[g], bins) != Self.bin(score[g - 1], bins) { out.append(g) }
        if score.count > 0 { out.append(score.count) }
        return out
    }

    static func bin(_ s: Double, _ bins: Int) -> Int { min(max(Int(s * Double(bins)), 0), bins - 1) }

    /// Cumulative true and false positives at each distinct score, highest first, with the score.
    var thresholdCounts: [(score: Double, tp: Double, fp: Double)] {
        var tp = 0.0, fp = 0.0
        return score.indices.map { g in
            tp += Double(positiveCount[g])
            fp += Double(negativeCount[g])
            return (score[g], tp, fp)
        }
    }
}
