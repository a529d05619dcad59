import Foundation
import Evaluation
import Models
import Store

/// `dxkit calibrate`: fits a calibrator and an operating threshold for one head's current model
/// on labelled, scored instances; stores both with the head; reports ECE, Brier and log loss before
/// and after. `score` applies them to new results, `recalibrate-results` to existing ones.
public struct CalibrateJob {
    public struct Outcome {
        public var calibrator: Calibrator
        public var threshold: Double
        public var thresholdRule: String
        public var n: Int
        public var before: [String: Double]
        public var after: [String: Double]
        public var reliabilityBefore: CalibrationBins
        public var reliabilityAfter: CalibrationBins
    }

    public enum ThresholdRule { case keep(Double), youden, sensitivity(Double) }

    public let database: IndexDatabase
    public init(database: IndexDatabase) { self.database = database }

    /// `finding`: a multi-label head's finding (`labels` then holds that finding's rows, see
    /// `LabelsFile.forFinding`, and `classes` is absent/present); `""` for a single-label head.
    public func run(labels: LabelsFile, head: String, modelSha256: String, finding: String = "", classes: [String], method: String,
                    rule: ThresholdRule) throws -> Outcome {
        let labelOf = try Labels.resolve(labels, database: database, classes: classes)
        let scored = try ResultStore(database: database).probabilities(head: head, modelSha256: modelSha256, finding: finding,
                                                                       instances: Array(labelOf.keys).sorted())
        let ids = scored.keys.sorted()
        let subject = finding.isEmpty ? head : "\(head) \(finding)"
        guard ids.count >= 2 else {
            throw EvaluationError(file: labels.path, reason: "only \(ids.count) labelled instance(s) have a \(subject) result; score them first")
        }
        let scores = ids.map { scored[$0]! }, ys = ids.map { labelOf[$0]! }
        guard Set(ys).count == 2 else {
            throw EvaluationError(file: labels.path, reason: "the labelled results\(finding.isEmpty ? "" : " of \(finding)") hold one class only")
        }
        let calibrator = try CalibratorFitting.fit(method, scores: scores, labels: ys)
        let calibrated = scores.map(calibrator.apply)
        let (threshold, ruleText): (Double, String)
        switch rule {
        case let .keep(t): (threshold, ruleText) = (t, "fixed \(t)")
        case .youden: (threshold, ruleText) = (OperatingPoint.youden(scores: calibrated, labels: ys), "Youden's J")
        case let .sensitivity(x): (threshold, ruleText) = (OperatingPoint.forSensitivity(x, scores: calibrated, labels: ys), "sensitivity ≥ \(x)")
        }
        // Each set of scores sorted once, for its metrics and its reliability bins.
        let before = BinaryEvaluation(scores: scores, labels: ys), after = BinaryEvaluation(scores: calibrated, labels: ys)
        let binsBefore = CalibrationBins(before), binsAfter = CalibrationBins(after)
        func metrics(_ e: BinaryEvaluation, _ bins: CalibrationBins) -> [String: Double] {
            ["ece": bins.ece, "brier": e.brier, "log_loss": e.logLoss]
        }
        let outcome = Outcome(calibrator: calibrator, threshold: threshold, thresholdRule: ruleText, n: ids.count,
                              before: metrics(before, binsBefore), after: metrics(after, binsAfter),
                              reliabilityBefore: binsBefore, reliabilityAfter: binsAfter)
        let json = String(decoding: try JSONEncoder().encode(calibrator), as: UTF8.self)
        let metricsJSON = String(decoding: try JSONSerialization.data(withJSONObject: ["before": outcome.before, "after": outcome.after],
                                                                      options: [.sortedKeys]), as: UTF8.self)
        _ = try ResultStore(database: database).saveCalibration(head: head, modelSha256: modelSha256, finding: finding, method: method,
                                                               calibratorJSON: json, threshold: threshold, thresholdRule: ruleText,
                                                               n: ids.count, labelsSha256: labels.sha256, metricsJSON: metricsJSON)
        return outcome
    }
}
