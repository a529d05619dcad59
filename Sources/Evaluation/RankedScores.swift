import Foundation

/// Binary scores sorted once, highest first, split into tie groups (runs of equal scores), with
/// each item's Brier and log-loss terms precomputed. Every threshold metric, the AUROC, average
/// precision, DeLong's variance, calibration bins and each bootstrap replicate are one pass over
/// this order with a weight per item (1 for the data as given, a resampling count in a bootstrap
/// replicate), so nothing is sorted twice: point estimates in O(n log n), a replicate in O(n).
public struct RankedScores: Sendable {
    /// Items in total, and how many are positive (label 1) and negative.
    public let n: Int
    public let positives: Int
    public var negatives: Int { n - positives }
    /// Sorted order (descending score): `order[k]` is the original index of the k-th item.
    let order: [Int32]
    /// Score, label (0 or 1, as Double), squared error and log loss of the k-th item.
    let score: [Double]
    let label: [Double]
    let brierTerm: [Double]
    let logLossTerm: [Double]
    /// Tie group g holds positions `groupStart[g] ..< groupStart[g + 1]` (one entry more than groups).
    let groupStart: [Int32]
    /// Sorted position of each positive (in original order) and of each negative: a stratified
    /// bootstrap draws "the j-th positive" and counts it at that position.
    let positivePositions: [Int32]
    let negativePositions: [Int32]

    public init(scores: [Double], labels: [Int]) {
        precondition(scores.count == labels.count, "one label per score")
        n = scores.count
        var pairs = [(Double, Int32)](unsafeUninitializedCapacity: n) { buffer, count in
            for i in 0..<scores.count { buffer[i] = (scores[i], Int32(i)) }
            count = scores.count
        }
        // Descending score; equal scores by original index, so the order is the same on every run.
        pairs.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        order = pairs.map(\.1)
        score = pairs.map(\.0)
        label = order.map { Double(labels[Int($0)] == 1 ? 1 : 0) }
        positives = labels.reduce(0) { $0 + ($1 == 1 ? 1 : 0) }
        let eps = Double.ulpOfOne
        var brier = [Double](repeating: 0, count: n), logLoss = [Double](repeating: 0, count: n)
        var starts: [Int32] = []
        starts.reserveCapacity(n + 1)
        var positionOf = [Int32](repeating: 0, count: n)
        for k in 0..<n {
            let s = score[k], y = label[k]
            brier[k] = (s - y) * (s - y)
            let p = min(max(s, eps), 1 - eps)
            logLoss[k] = y == 1 ? -log(p) : -log(1 - p)
            if k == 0 || score[k] != score[k - 1] { starts.append(Int32(k)) }
            positionOf[Int(order[k])] = Int32(k)
        }
        starts.append(Int32(n))
        brierTerm = brier
        logLossTerm = logLoss
        groupStart = starts
        var pos: [Int32] = [], neg: [Int32] = []
        pos.reserveCapacity(positives)
        neg.reserveCapacity(n - positives)
        for i in 0..<n {
            if labels[i] == 1 { pos.append(positionOf[i]) } else { neg.append(positionOf[i]) }
        }
        positivePositions = pos
        negativePositions = neg
    }

    /// Number of tie groups (distinct scores).
    var groups: Int { groupStart.count - 1 }

    /// Items with a score at or above `threshold`: a prefix of the sorted order.
    func count(atOrAbove threshold: Double) -> Int {
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) / 2
            if score[mid] >= threshold { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Equal-width bin (of `bins` over [0, 1], a score of 1 in the last) of the k-th item, as
    /// `CalibrationBins` assigns it.
    static func bin(_ s: Double, _ bins: Int) -> Int { min(max(Int(s * Double(bins)), 0), bins - 1) }
}
