/// The one place a head's probability becomes a decision: the positive class when the (calibrated)
/// probability is at or above the threshold, else the negative class. Scoring, recalibration and
/// study aggregation all decide through it; the reports compare decisions with `positive`.
public struct DecisionRule: Sendable, Equatable {
    public var threshold: Double
    public var positive: String
    public var negative: String

    public init(threshold: Double, positive: String, negative: String) {
        self.threshold = threshold
        self.positive = positive
        self.negative = negative
    }

    public func decide(_ calibratedProbability: Double) -> String { calibratedProbability >= threshold ? positive : negative }

    public func isPositive(_ decision: String?) -> Bool { decision == positive }

    /// The same rule at another threshold (an active calibration's operating point).
    public func at(_ threshold: Double) -> DecisionRule {
        DecisionRule(threshold: threshold, positive: positive, negative: negative)
    }
}
