import Foundation
import Evaluation
import Models
import Store

extension ScoreJob.Head {
    /// Takes the head's active stored calibration (calibrator and operating threshold), if any;
    /// returns what was applied.
    @discardableResult
    public mutating func applyStoredCalibration(_ store: ResultStore) throws -> StoredCalibration? {
        guard let stored = try store.activeCalibration(head: name, modelSha256: sha256) else { return nil }
        calibrator = try JSONDecoder().decode(Calibrator.self, from: Data(stored.calibratorJSON.utf8))
        rule = rule.at(stored.threshold)
        return stored
    }
}

/// Applies a head's stored calibration to its existing results and study aggregates, without
/// running the network.
public enum Recalibration {
    /// The number of results rewritten and the calibration used; nil when none is stored.
    public static func run(database: IndexDatabase, head: ScoreJob.Head) throws -> (count: Int, calibration: StoredCalibration)? {
        var head = head
        let store = ResultStore(database: database)
        guard let stored = try head.applyStoredCalibration(store), let calibrator = head.calibrator else { return nil }
        let rule = head.rule
        let count = try store.recalibrate(head: head.name, modelSha256: head.sha256, threshold: rule.threshold) { p in
            let c = calibrator.apply(p)
            return (c, rule.decide(c))
        }
        try StudyAggregation.update(store, head: head.name, modelSha256: head.sha256, rule: head.scoring.aggregation.rule,
                                    decision: rule)
        return (count, stored)
    }
}
