/// The ROC curve as scikit-learn's `roc_curve(drop_intermediate=False)` returns it: one point per
/// distinct score, highest first, after a first point (0, 0) whose threshold is +∞ (null in JSON).
public struct ROCCurve: Codable, Sendable, Equatable {
    public var fpr: [Double]
    public var tpr: [Double]
    public var thresholds: [Double?]
}

/// The precision–recall curve as scikit-learn's `precision_recall_curve` returns it: thresholds
/// ascending, precision and recall at each, then the closing point (recall 0, precision 1) that
/// has no threshold.
public struct PrecisionRecallCurve: Codable, Sendable, Equatable {
    public var precision: [Double]
    public var recall: [Double]
    public var thresholds: [Double]
}

extension BinaryEvaluation {
    var thresholdCounts: [(score: Double, tp: Double, fp: Double)] { ranked.thresholdCounts }

    /// The ROC curve; nil with one class. `maxPoints` (> 1) keeps that many points, evenly spaced
    /// along the curve's points, the first and last always kept; nil keeps all.
    public func roc(maxPoints: Int? = nil) -> ROCCurve? {
        guard bothClasses else { return nil }
        let counts = thresholdCounts, p = Double(positives), q = Double(n - positives)
        var curve = ROCCurve(fpr: [0] + counts.map { $0.fp / q }, tpr: [0] + counts.map { $0.tp / p },
                             thresholds: [nil] + counts.map(\.score))
        let keep = Self.thinned(curve.fpr.count, maxPoints)
        if keep.count < curve.fpr.count {
            curve = ROCCurve(fpr: keep.map { curve.fpr[$0] }, tpr: keep.map { curve.tpr[$0] }, thresholds: keep.map { curve.thresholds[$0] })
        }
        return curve
    }

    /// The precision–recall curve; nil without positives. `maxPoints` as for `roc` (the closing
    /// point always kept).
    public func precisionRecall(maxPoints: Int? = nil) -> PrecisionRecallCurve? {
        guard positives > 0 else { return nil }
        let counts = Array(thresholdCounts.reversed()), p = Double(positives)
        let keep = Self.thinned(counts.count, maxPoints.map { max(2, $0 - 1) })
        let kept = keep.map { counts[$0] }
        return PrecisionRecallCurve(precision: kept.map { $0.tp + $0.fp > 0 ? $0.tp / ($0.tp + $0.fp) : 0 } + [1],
                                    recall: kept.map { $0.tp / p } + [0], thresholds: kept.map(\.score))
    }

    /// Indices 0..<count, or `limit` of them evenly spaced with both ends.
    static func thinned(_ count: Int, _ limit: Int?) -> [Int] {
        guard let limit, limit >= 2, count > limit else { return Array(0..<count) }
        var out: [Int] = []
        for k in 0..<limit {
            let i = Int((Double(k) * Double(count - 1) / Double(limit - 1)).rounded())
            if out.last != i { out.append(i) }
        }
        return out
    }
}
