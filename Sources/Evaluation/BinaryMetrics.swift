import Foundation

/// Metrics of binary scores against 0/1 labels, defined as scikit-learn and Fairlearn define them
/// (tested against both to 1e-9). Scores are probabilities of the positive class.
public struct BinaryEvaluation: Sendable {
    public let scores: [Double]
    public let labels: [Int]
    /// The scores sorted once (descending, with tie groups): what the AUROC, average precision,
    /// curves, DeLong's variance and the bootstrap are computed from.
    public let ranked: RankedScores

    public init(scores: [Double], labels: [Int]) {
        precondition(scores.count == labels.count, "one label per score")
        self.scores = scores
        self.labels = labels
        ranked = RankedScores(scores: scores, labels: labels)
    }

    public var n: Int { scores.count }
    public var positives: Int { ranked.positives }
    public var prevalence: Double { n > 0 ? Double(positives) / Double(n) : .nan }
    public var bothClasses: Bool { positives > 0 && positives < n }

    /// Area under the ROC curve (Mann–Whitney, ties counted one half); nil with one class.
    public var auroc: Double? { bothClasses ? pointPass(threshold: 0.5, bins: 1).auroc : nil }

    /// DeLong's 95% interval for the AUROC (normal approximation, clipped to [0, 1]), from the
    /// structural components in one pass over the sorted scores (Sun & Xu, 2014: O(n log n)).
    public var aurocDeLong: (Double, Double)? {
        guard let auc = auroc else { return nil }
        let r = ranked
        let m = Double(r.positives), k = Double(r.negatives)
        // Per tie group: a positive's component is the share of negatives below it (ties one
        // half), a negative's the share of positives above it; every member of a group shares it.
        var groups: [(tp: Double, fp: Double, v10: Double, v01: Double)] = []
        groups.reserveCapacity(r.groups)
        var tpAbove = 0.0, fpAbove = 0.0
        for g in 0..<r.groups {
            let tpg = Double(r.positiveCount[g]), fpg = Double(r.negativeCount[g])
            groups.append((tpg, fpg, (k - fpAbove - fpg + 0.5 * fpg) / k, (tpAbove + 0.5 * tpg) / m))
            tpAbove += tpg
            fpAbove += fpg
        }
        func variance(_ weight: KeyPath<(tp: Double, fp: Double, v10: Double, v01: Double), Double>,
                      _ value: KeyPath<(tp: Double, fp: Double, v10: Double, v01: Double), Double>, count: Double) -> Double {
            guard count > 1 else { return 0 }
            let mean = groups.reduce(0) { $0 + $1[keyPath: weight] * $1[keyPath: value] } / count
            return groups.reduce(0) { $0 + $1[keyPath: weight] * ($1[keyPath: value] - mean) * ($1[keyPath: value] - mean) } / (count - 1)
        }
        let se = (variance(\.tp, \.v10, count: m) / m + variance(\.fp, \.v01, count: k) / k).squareRoot()
        return (max(0, auc - 1.959963984540054 * se), min(1, auc + 1.959963984540054 * se))
    }

    /// Average precision (scikit-learn's average_precision_score): Σ (R_i − R_{i−1}) P_i over thresholds.
    public var auprc: Double? { positives > 0 ? pointPass(threshold: 0.5, bins: 1).auprc : nil }

    public var brier: Double { n > 0 ? pointPass(threshold: 0.5, bins: 1).brier : .nan }

    /// Mean negative log-likelihood, probabilities clipped to [ε, 1 − ε] with ε = machine epsilon (as scikit-learn).
    public var logLoss: Double { n > 0 ? pointPass(threshold: 0.5, bins: 1).logLoss : .nan }

    /// Every metric of the data as given in one pass.
    func pointPass(threshold: Double, bins: Int) -> PassMetrics { ranked.pointPass(threshold: threshold, bins: bins) }

    /// Confusion-matrix rates when `score >= threshold` predicts the positive class.
    public struct AtThreshold: Sendable {
        public var threshold: Double
        public var tp: Int, fp: Int, tn: Int, fn: Int
        public var sensitivity: Double? { tp + fn > 0 ? Double(tp) / Double(tp + fn) : nil }
        public var specificity: Double? { tn + fp > 0 ? Double(tn) / Double(tn + fp) : nil }
        public var ppv: Double? { tp + fp > 0 ? Double(tp) / Double(tp + fp) : nil }
        public var npv: Double? { tn + fn > 0 ? Double(tn) / Double(tn + fn) : nil }
        public var fpr: Double? { specificity.map { 1 - $0 } }
        public var fnr: Double? { sensitivity.map { 1 - $0 } }
        public var f1: Double? { 2 * tp + fp + fn > 0 ? Double(2 * tp) / Double(2 * tp + fp + fn) : nil }
        public var accuracy: Double { Double(tp + tn) / Double(max(tp + fp + tn + fn, 1)) }
        public var selectionRate: Double { Double(tp + fp) / Double(max(tp + fp + tn + fn, 1)) }
    }

    public func at(_ threshold: Double) -> AtThreshold {
        var r = AtThreshold(threshold: threshold, tp: 0, fp: 0, tn: 0, fn: 0)
        for (s, y) in zip(scores, labels) {
            switch (s >= threshold, y == 1) {
            case (true, true): r.tp += 1
            case (true, false): r.fp += 1
            case (false, false): r.tn += 1
            case (false, true): r.fn += 1
            }
        }
        return r
    }

    /// ROC curve points (FPR, TPR) at every distinct threshold, from (0, 0) to (1, 1); nil with one class.
    public var rocCurve: [(Double, Double)]? {
        guard bothClasses else { return nil }
        let p = Double(positives), q = Double(n - positives)
        return [(0.0, 0.0)] + cumulativeCounts.map { tp, fp in (fp / q, tp / p) }
    }

    /// True and false positives when every score at or above each distinct threshold, highest
    /// first, is called positive (ties enter together).
    var cumulativeCounts: [(tp: Double, fp: Double)] { ranked.thresholdCounts.map { ($0.tp, $0.fp) } }
}
