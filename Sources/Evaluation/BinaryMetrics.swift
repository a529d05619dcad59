import Foundation

/// Metrics of binary scores against 0/1 labels, defined as scikit-learn and Fairlearn define them
/// (tested against both to 1e-9). Scores are probabilities of the positive class.
public struct BinaryEvaluation: Sendable {
    public let scores: [Double]
    public let labels: [Int]

    public init(scores: [Double], labels: [Int]) {
        precondition(scores.count == labels.count, "one label per score")
        self.scores = scores
        self.labels = labels
    }

    public var n: Int { scores.count }
    public var positives: Int { labels.filter { $0 == 1 }.count }
    public var prevalence: Double { n > 0 ? Double(positives) / Double(n) : .nan }
    public var bothClasses: Bool { positives > 0 && positives < n }

    /// Area under the ROC curve (Mann–Whitney, ties counted one half); nil with one class.
    public var auroc: Double? {
        guard bothClasses else { return nil }
        let ranks = Self.midranks(scores)
        let p = Double(positives), q = Double(n - positives)
        let sum = zip(ranks, labels).filter { $0.1 == 1 }.map(\.0).reduce(0, +)
        return (sum - p * (p + 1) / 2) / (p * q)
    }

    /// DeLong's 95% interval for the AUROC (normal approximation, clipped to [0, 1]).
    public var aurocDeLong: (Double, Double)? {
        guard let auc = auroc else { return nil }
        let pos = scores.indices.filter { labels[$0] == 1 }.map { scores[$0] }
        let neg = scores.indices.filter { labels[$0] == 0 }.map { scores[$0] }
        let m = Double(pos.count), k = Double(neg.count)
        // Structural components from midranks within the pooled, positive and negative samples.
        let all = Self.midranks(pos + neg), rp = Self.midranks(pos), rn = Self.midranks(neg)
        let v10 = pos.indices.map { (all[$0] - rp[$0]) / k }
        let v01 = neg.indices.map { 1 - (all[pos.count + $0] - rn[$0]) / m }
        func variance(_ v: [Double]) -> Double {
            let mean = v.reduce(0, +) / Double(v.count)
            return v.count > 1 ? v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count - 1) : 0
        }
        let se = (variance(v10) / m + variance(v01) / k).squareRoot()
        return (max(0, auc - 1.959963984540054 * se), min(1, auc + 1.959963984540054 * se))
    }

    /// Average precision (scikit-learn's average_precision_score): Σ (R_i − R_{i−1}) P_i over thresholds.
    public var auprc: Double? {
        guard positives > 0 else { return nil }
        var previousRecall = 0.0, ap = 0.0
        for (tp, fp) in cumulativeCounts {
            let recall = tp / Double(positives)
            ap += (recall - previousRecall) * (tp / (tp + fp))
            previousRecall = recall
        }
        return ap
    }

    public var brier: Double { zip(scores, labels).map { ($0 - Double($1)) * ($0 - Double($1)) }.reduce(0, +) / Double(n) }

    /// Mean negative log-likelihood, probabilities clipped to [ε, 1 − ε] with ε = machine epsilon (as scikit-learn).
    public var logLoss: Double {
        let eps = Double.ulpOfOne
        return zip(scores, labels).map { s, y in
            let p = min(max(s, eps), 1 - eps)
            return y == 1 ? -log(p) : -log(1 - p)
        }.reduce(0, +) / Double(n)
    }

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
    var cumulativeCounts: [(tp: Double, fp: Double)] {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0.0, fp = 0.0, out: [(tp: Double, fp: Double)] = []
        var i = 0
        while i < order.count {
            var j = i
            while j < order.count && scores[order[j]] == scores[order[i]] {
                if labels[order[j]] == 1 { tp += 1 } else { fp += 1 }
                j += 1
            }
            out.append((tp, fp))
            i = j
        }
        return out
    }

    /// Midranks (1-based, ties averaged).
    static func midranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var ranks = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            for k in i...j { ranks[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        return ranks
    }
}
