import Common
/// A failure reading evaluation input (a scores or manifest CSV, labels) or fitting on it, naming
/// the file (or what stands for it) and the reason.
public typealias EvaluationError = FileFailure<EvaluationDomain>
public enum EvaluationDomain {}

/// One scored, labelled instance with the attributes audits group by (sex, age, manufacturer, …).
public struct AuditRow: Sendable {
    public var instanceID: Int64
    public var probability: Double
    public var calibratedProbability: Double
    public var attributes: [String: String]

    public init(instanceID: Int64, probability: Double, calibratedProbability: Double, attributes: [String: String]) {
        self.instanceID = instanceID
        self.probability = probability
        self.calibratedProbability = calibratedProbability
        self.attributes = attributes
    }
}
