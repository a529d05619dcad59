import Foundation
import Evaluation
import Models
import Store

extension ScoreJob.Head {
    /// Takes the head's active stored calibration (calibrator and operating threshold), if any;
    /// returns what was applied. A multi-label head takes each finding's own
    /// (`applyStoredCalibrations`) and returns the first one found.
    @discardableResult
    public mutating func applyStoredCalibration(_ store: ResultStore) throws -> StoredCalibration? {
        if isMultiLabel { return try applyStoredCalibrations(store).first }
        guard let stored = try store.activeCalibration(head: name, modelSha256: sha256) else { return nil }
        calibrator = try JSONDecoder().decode(Calibrator.self, from: Data(stored.calibratorJSON.utf8))
        rule = rule.at(stored.threshold)
        findings[0].rule = rule
        return stored
    }

    /// A multi-label head: every finding's active calibration (calibrator and operating threshold),
    /// in the card's order of findings; findings without one keep the card's threshold.
    @discardableResult
    public mutating func applyStoredCalibrations(_ store: ResultStore) throws -> [StoredCalibration] {
        guard isMultiLabel else { return try applyStoredCalibration(store).map { [$0] } ?? [] }
        var applied: [StoredCalibration] = []
        for i in findings.indices {
            guard let stored = try store.activeCalibration(head: name, modelSha256: sha256, finding: findings[i].name) else { continue }
            findingCalibrators[findings[i].name] = try JSONDecoder().decode(Calibrator.self, from: Data(stored.calibratorJSON.utf8))
            findings[i].rule = findings[i].rule.at(stored.threshold)
            applied.append(stored)
        }
        if let first = findings.first { rule = first.rule }
        return applied
    }

    /// The calibrator of a finding (`""`: a single-label head's one), nil when none is active.
    public func calibrator(for finding: String) -> Calibrator? {
        isMultiLabel ? findingCalibrators[finding] : calibrator
    }

    /// Each finding's decision rule by name, as study aggregation and recalibration use them.
    public var decisionRules: [String: DecisionRule] {
        Dictionary(findings.map { ($0.name, $0.rule) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Applies a head's stored calibration to its existing results and study aggregates, without
/// running the network (a multi-label head: each finding's own calibration to that finding's results).
public enum Recalibration {
    /// The number of results rewritten and the calibration used (a multi-label head: the first
    /// finding's found); nil when none is stored.
    public static func run(database: IndexDatabase, head: ScoreJob.Head) throws -> (count: Int, calibration: StoredCalibration)? {
        var head = head
        let store = ResultStore(database: database)
        let applied = try head.applyStoredCalibrations(store)
        guard let first = applied.first else { return nil }
        var count = 0
        for finding in head.findings {
            guard let calibrator = head.calibrator(for: finding.name),
                  applied.contains(where: { $0.finding == finding.name }) else { continue }
            let rule = finding.rule
            count += try store.recalibrate(head: head.name, modelSha256: head.sha256, finding: finding.name,
                                           threshold: rule.threshold) { p in
                let c = calibrator.apply(p)
                return (c, rule.decide(c))
            }
        }
        try StudyAggregation.update(store, head: head.name, modelSha256: head.sha256, rule: head.scoring.aggregation.rule,
                                    decisions: head.decisionRules, order: head.findings.map(\.name))
        return (count, first)
    }
}
