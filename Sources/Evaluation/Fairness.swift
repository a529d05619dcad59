/// Group disparities as Fairlearn defines them: the largest difference between groups of the
/// selection rate (demographic parity) and of the true- and false-positive rates (equalized odds).
public enum Fairness {
    public static func demographicParityDifference(_ groups: [String: BinaryEvaluation], threshold: Double) -> Double {
        let rates = groups.values.map { $0.at(threshold).selectionRate }
        return (rates.max() ?? 0) - (rates.min() ?? 0)
    }

    public static func equalizedOddsDifference(_ groups: [String: BinaryEvaluation], threshold: Double) -> Double {
        let at = groups.values.map { $0.at(threshold) }
        let tpr = at.compactMap(\.sensitivity), fpr = at.compactMap(\.fpr)
        return max((tpr.max() ?? 0) - (tpr.min() ?? 0), (fpr.max() ?? 0) - (fpr.min() ?? 0))
    }
}
