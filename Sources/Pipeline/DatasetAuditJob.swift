import DICOM
import Evaluation
import Foundation
import Store

/// `dxkit audit-dataset`: the composition of the indexed images (with labels and splits from a
/// labels file) or of a metadata manifest without images, audited and stored in the index.
public struct DatasetAuditJob {
    public enum Source {
        /// The index's decodable, unique instances; labels (0/1) and splits from a labels file.
        case index(labels: LabelsFile?)
        /// A metadata CSV; `mapping` names its column for sex, age, view_position, manufacturer,
        /// institution, modality, label and split.
        case manifest(path: String, mapping: [String: String])
    }

    public let database: IndexDatabase
    public init(database: IndexDatabase) { self.database = database }

    /// The stored audit's id, the number of records and the result.
    public func run(_ source: Source, ageBands: [Double]) throws -> (id: Int64, records: Int, result: DatasetAuditResult) {
        var audit = DatasetAudit()
        audit.ageBands = ageBands
        var records: [DatasetAudit.Record]
        var labelsHash = "", sourceName = database.path, labelsName: String?
        switch source {
        case let .manifest(path, mapping):
            records = try DatasetAudit.manifest(path, mapping: mapping)
            labelsHash = try ContentHash.sha256(file: path)
            sourceName = path
        case let .index(labels):
            var labelOf: [Int64: Int] = [:], splitOf: [Int64: String] = [:]
            if let labels {
                labelsHash = labels.sha256
                labelsName = labels.path
                labelOf = try Labels.resolve(labels, database: database, classes: ["0", "1"])
                let found = try database.instances(matching: labels.rows.map(\.key), column: labels.keyKind.rawValue)
                for row in labels.rows { if let s = row.split { for i in found[row.key] ?? [] { splitOf[i.instanceID] = s } } }
            }
            records = try database.datasetAttributes().map { id, a in
                DatasetAudit.Record(attributes: a, label: labelOf[id], split: splitOf[id])
            }
        }
        let result = audit.run(records)
        struct Parameters: Encodable { var source: String; var labels: String?; var ageBands: [Double]
            enum CodingKeys: String, CodingKey { case source, labels, ageBands = "age_bands" } }
        let encoder = JSONEncoder.sorted
        let id = try ResultStore(database: database).saveAudit(
            kind: "dataset", head: "", modelSha256: "", labelsSha256: labelsHash,
            parametersJSON: String(decoding: try encoder.encode(Parameters(source: sourceName, labels: labelsName, ageBands: ageBands)), as: UTF8.self),
            resultsJSON: String(decoding: try encoder.encode(result), as: UTF8.self))
        return (id, records.count, result)
    }
}
