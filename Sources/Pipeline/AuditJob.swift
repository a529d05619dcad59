import DICOM
import Foundation
import Evaluation
import Store

/// `dxkit audit`: runs a subgroup audit of one head's model on labelled studies and stores it as an
/// audit run (inputs' hash, head, model, parameters and every number) in the index.
public struct AuditJob {
    public let database: IndexDatabase
    public init(database: IndexDatabase) { self.database = database }

    /// `finding`: a multi-label head's finding (`labels` then holds that finding's rows, see
    /// `LabelsFile.forFinding`, and `classes` is absent/present); `""` for a single-label head.
    public func run(labels: LabelsFile, head: String, modelSha256: String, finding: String = "", classes: [String],
                    audit: SubgroupAudit) throws -> (id: Int64, results: SubgroupAuditResult) {
        let labelOf = try Labels.resolve(labels, database: database, classes: classes)
        let store = ResultStore(database: database)
        var rows = try store.scoredInstances(head: head, modelSha256: modelSha256, finding: finding, instances: labelOf.keys.sorted()).map {
            AuditRow(instanceID: $0.instanceID, probability: $0.probability, calibratedProbability: $0.calibratedProbability,
                     attributes: $0.attributes)
        }
        // Extra columns of the labels file (demographics not in the headers) join the DICOM attributes.
        let found = try database.instances(matching: labels.rows.map(\.key), column: labels.keyKind.rawValue)
        var extraOf: [Int64: [String: String]] = [:]
        for row in labels.rows where !row.extra.isEmpty { for i in found[row.key] ?? [] { extraOf[i.instanceID] = row.extra } }
        for i in rows.indices { rows[i].attributes.merge(extraOf[rows[i].instanceID] ?? [:]) { _, csv in csv } }
        guard !rows.isEmpty else {
            throw StoreError(file: labels.path, reason: "no labelled instance has a \(finding.isEmpty ? head : "\(head) \(finding)") result; score them first")
        }
        let results = audit.run(rows, labels: labelOf)
        let parameters: [String: Any] = ["by": audit.attributes, "age_bands": audit.ageBands, "reference": audit.reference ?? NSNull(),
                                         "intersections": audit.intersections, "minimum_size": audit.minimumSize,
                                         "fair_ratio_range": [audit.fairRange.0, audit.fairRange.1],
                                         "threshold": audit.threshold, "bootstrap_replicates": audit.bootstrap.replicates,
                                         "bootstrap_seed": audit.bootstrap.seed, "labels_file": labels.path]
            .merging(finding.isEmpty ? [:] : ["finding": finding]) { a, _ in a }
        func json(_ o: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
        }
        let encoded = String(decoding: try JSONEncoder.sorted.encode(results), as: UTF8.self)
        let id = try store.saveAudit(kind: "subgroup", head: head, modelSha256: modelSha256, finding: finding, labelsSha256: labels.sha256,
                                     parametersJSON: try json(parameters), resultsJSON: encoded)
        return (id, results)
    }
}

extension JSONEncoder {
    /// Keys sorted: stored results are stable byte for byte.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
