import Evaluation
import Foundation
import Models
import Store
import Training

/// `dxkit train --multilabel`: a long-format labels file (`key,finding,label`) resolved against
/// the index into a `MultiLabelCohort`, checked before any training (a finding column, 0/1 or
/// absent/present labels, no key labelled twice for one finding, every key ingested), trained by
/// `MultiLabelTrainingRun` and registered so that `score` uses the head at once.
public struct MultiLabelTrainJob {
    public let database: IndexDatabase
    public let labels: LabelsFile
    /// The findings to train, in output order; empty: every finding in the file, first seen first.
    public let findings: [String]
    public let options: TrainingRun.Options

    public init(database: IndexDatabase, labels: LabelsFile, findings: [String], options: TrainingRun.Options) {
        self.database = database
        self.labels = labels
        self.findings = findings
        self.options = options
    }

    public func run(log: @escaping (String) -> Void) throws -> MultiLabelTrainingRun.Outcome {
        let cohort = try Self.cohort(labels, findings: findings, database: database)
        let source = TrainingRun.LabelsSource(path: labels.path, sha256: labels.sha256, hasSplits: labels.rows.contains { $0.split != nil })
        let outcome = try MultiLabelTrainingRun(cohort: cohort, labels: source, options: options).run(log: log)
        try ResultStore(database: database).registerModel(head: options.head, name: options.head, weightsSha256: outcome.weightsSha256,
                                                          cardJSON: outcome.cardJSON)
        return outcome
    }

    /// The labelled instances with a target per finding; refuses a file without a finding column,
    /// labels other than 0/1/absent/present, a named finding no row labels, a key labelled twice
    /// for a finding and keys matching nothing ingested, naming the file and lines.
    public static func cohort(_ labels: LabelsFile, findings requested: [String], database: IndexDatabase) throws -> MultiLabelCohort {
        guard labels.hasFindingColumn else {
            throw EvaluationError(file: labels.path, reason: "no finding column: --multilabel reads one row per key and finding (columns: key, finding, label)")
        }
        var findings = requested
        if findings.isEmpty { findings = labels.labelledFindingNames }
        let unlabelled = findings.filter { name in !labels.rows.contains { $0.finding == name } }
        if !unlabelled.isEmpty {
            throw EvaluationError(file: labels.path, reason: "no row labels finding \(unlabelled.joined(separator: ", ")) (findings in the file: \(labels.labelledFindingNames.joined(separator: ", ")))")
        }
        var problems: [String] = [], seen: [String: Int] = [:]
        var keys: [String] = [], targets: [String: [Float?]] = [:], lines: [String: [Int?]] = [:], rowOf: [String: LabelsFile.Row] = [:]
        for row in labels.rows {
            guard let k = findings.firstIndex(of: row.finding ?? "") else { continue }
            let value: Float
            switch row.label.lowercased() {
            case "1", "present": value = 1
            case "0", "absent": value = 0
            default:
                problems.append("line \(row.line): label '\(row.label)' is not 0/1 or absent/present")
                continue
            }
            if let earlier = seen.updateValue(row.line, forKey: row.key + "\u{0}" + findings[k]) {
                problems.append("line \(row.line): \(labels.keyKind.rawValue) \(row.key) is labelled for \(findings[k]) already on line \(earlier)")
                continue
            }
            if targets[row.key] == nil {
                keys.append(row.key)
                targets[row.key] = findings.map { _ in nil }
                lines[row.key] = findings.map { _ in nil }
                rowOf[row.key] = row
            }
            targets[row.key]![k] = value
            lines[row.key]![k] = row.line
        }
        if !problems.isEmpty { throw EvaluationError(file: labels.path, reason: problems.joined(separator: "; ")) }
        let found = try database.instances(matching: keys, column: labels.keyKind.rawValue)
        let missing = keys.filter { found[$0] == nil }
        if !missing.isEmpty {
            throw EvaluationError(file: labels.path, reason: "labels reference nothing ingested (ingest the images first): "
                                  + missing.map { "line \(rowOf[$0]!.line): \(labels.keyKind.rawValue) \($0)" }.joined(separator: "; "))
        }
        let examples = keys.flatMap { key in
            found[key]!.map { instance in
                let row = rowOf[key]!
                return MultiLabelCohort.Example(
                    instance: TrainingImage(instanceID: instance.instanceID, path: instance.path, sopInstanceUID: instance.sopInstanceUID,
                                            studyInstanceUID: instance.studyInstanceUID, patient: row.patient ?? instance.patient,
                                            sha256: instance.sha256),
                    targets: targets[key]!, lines: lines[key]!, split: Cohort.Split(rawValue: row.split ?? "") ?? .train)
            }
        }
        return MultiLabelCohort(findings: findings, examples: examples, file: labels.path)
    }
}

extension LabelsFile {
    /// The findings the rows name, first seen first.
    var labelledFindingNames: [String] {
        var names: [String] = []
        for row in rows { if let f = row.finding, !names.contains(f) { names.append(f) } }
        return names
    }
}
