import DICOM
import Evaluation
import Foundation
import Models
import Store
import Training

/// `dxkit train`: the labels file resolved against the index into a cohort, a head trained on it
/// (`Training.TrainingRun`), and its card registered in the index so that `score` uses it at once.
public struct TrainJob {
    public let database: IndexDatabase
    public let labels: LabelsFile
    public let options: TrainingRun.Options

    public init(database: IndexDatabase, labels: LabelsFile, options: TrainingRun.Options) {
        self.database = database
        self.labels = labels
        self.options = options
    }

    public func run(log: @escaping (String) -> Void) throws -> TrainingRun.Outcome {
        let cohort = try Labels.cohort(labels, database: database, classes: options.classes)
        let source = TrainingRun.LabelsSource(path: labels.path, sha256: labels.sha256, hasSplits: labels.rows.contains { $0.split != nil })
        let outcome = try TrainingRun(cohort: cohort, labels: source, options: options).run(log: log)
        try ResultStore(database: database).registerModel(head: options.head, name: options.head, weightsSha256: outcome.weightsSha256,
                                                          cardJSON: outcome.cardJSON)
        return outcome
    }
}

/// A labels file resolved against the index: the instances each row names, with its label.
public enum Labels {
    /// Instance id → 0/1 (a class name counts by its position in `classes`). Refuses rows whose
    /// label is neither or whose key matches nothing ingested, naming the lines.
    public static func resolve(_ labels: LabelsFile, database: IndexDatabase, classes: [String]) throws -> [Int64: Int] {
        var labelOf: [Int64: Int] = [:]
        for (instance, label, _) in try matched(labels, database: database, classes: classes) { labelOf[instance.instanceID] = label }
        return labelOf
    }

    /// The cohort a labels file describes, for training (a row's `patient` replaces the PatientID).
    public static func cohort(_ labels: LabelsFile, database: IndexDatabase, classes: [String]) throws -> Cohort {
        let examples = try matched(labels, database: database, classes: classes).map { instance, label, row in
            Cohort.Example(instance: TrainingImage(instanceID: instance.instanceID, path: instance.path, sopInstanceUID: instance.sopInstanceUID,
                                                   studyInstanceUID: instance.studyInstanceUID, patient: row.patient ?? instance.patient,
                                                   sha256: instance.sha256),
                           label: label, split: Cohort.Split(rawValue: row.split ?? "") ?? .train)
        }
        return Cohort(classes: classes, examples: examples)
    }

    static func matched(_ labels: LabelsFile, database: IndexDatabase, classes: [String]) throws
        -> [(instance: LabelledInstance, label: Int, row: LabelsFile.Row)] {
        let found = try database.instances(matching: labels.rows.map(\.key), column: labels.keyKind.rawValue)
        var out: [(LabelledInstance, Int, LabelsFile.Row)] = [], badLabels: [String] = [], missing: [String] = []
        for row in labels.rows {
            let label: Int?
            if let n = Int(row.label), n >= 0, n < max(classes.count, 2) { label = n } else { label = classes.firstIndex(of: row.label) }
            guard let label else {
                badLabels.append("line \(row.line): label '\(row.label)' is none of \(classes.joined(separator: ", ")) or 0…\(max(classes.count, 2) - 1)")
                continue
            }
            guard let instances = found[row.key] else {
                missing.append("line \(row.line): \(labels.keyKind.rawValue) \(row.key)")
                continue
            }
            for instance in instances { out.append((instance, label, row)) }
        }
        if !badLabels.isEmpty { throw EvaluationError(file: labels.path, reason: badLabels.joined(separator: "; ")) }
        if !missing.isEmpty {
            throw EvaluationError(file: labels.path, reason: "labels reference nothing ingested (ingest the images first): "
                                  + missing.joined(separator: "; "))
        }
        return out
    }
}
