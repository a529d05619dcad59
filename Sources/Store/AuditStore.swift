import Foundation
import GRDB

/// A scored instance with the attributes audits group by, as stored.
public struct ScoredInstance: Sendable {
    public var instanceID: Int64
    public var probability: Double
    public var calibratedProbability: Double
    public var attributes: [String: String]
}

extension ResultStore {
    /// Scored results of `head`'s model and `finding` for the given instances, with their DICOM
    /// attributes (`age_years` as text, others as stored).
    public func scoredInstances(head: String, modelSha256: String, finding: String = "", instances: [Int64]) throws -> [ScoredInstance] {
        let wanted = Set(instances)
        var found: [Int64: ScoredInstance] = [:]
        try database.queue.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT r.instance_ref, r.probability, r.calibrated_probability, i.sex, i.age_years, i.manufacturer, i.model,
                       i.institution, i.station, i.view_position, i.laterality, i.modality, i.body_part
                FROM results r JOIN instances i ON i.id = r.instance_ref
                WHERE r.head = ? AND r.model_sha256 = ? AND r.finding = ? AND r.status = 'scored'
                """, arguments: [head, modelSha256, finding])
            while let r = try rows.next() {
                let id: Int64 = r["instance_ref"]
                guard wanted.contains(id) else { continue }
                var attributes: [String: String] = [:]
                for key in ["sex", "manufacturer", "model", "institution", "station", "view_position", "laterality", "modality", "body_part"] {
                    if let v: String = r[key], !v.isEmpty { attributes[key] = v }
                }
                if let age: Double = r["age_years"] { attributes["age_years"] = String(age) }
                let p: Double = r["probability"]
                found[id] = ScoredInstance(instanceID: id, probability: p, calibratedProbability: r["calibrated_probability"] ?? p,
                                           attributes: attributes)
            }
        }
        return instances.compactMap { found[$0] }
    }

    public func saveAudit(kind: String, head: String, modelSha256: String, finding: String = "", labelsSha256: String,
                          parametersJSON: String, resultsJSON: String) throws -> Int64 {
        try database.queue.write { db in
            try db.execute(sql: """
                INSERT INTO audits (kind, head, finding, model_sha256, labels_sha256, parameters, results, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [kind, head, finding, modelSha256, labelsSha256, parametersJSON, resultsJSON, Self.now()])
            return db.lastInsertedRowID
        }
    }

    /// Stored audit `id`: its kind, head, finding (`""` for a single-label head or a dataset
    /// audit), time, parameters and results (JSON).
    public func audit(_ id: Int64) throws
        -> (kind: String, head: String, finding: String, created: String, parameters: String, results: String)? {
        try database.queue.read { db in
            try Row.fetchOne(db, sql: "SELECT kind, head, finding, created_at, parameters, results FROM audits WHERE id = ?",
                             arguments: [id]).map {
                ($0["kind"], $0["head"], $0["finding"], $0["created_at"], $0["parameters"], $0["results"])
            }
        }
    }
}

extension IndexDatabase {
    /// Attributes of every decodable, unique instance (for dataset audits): id → attributes.
    public func datasetAttributes() throws -> [(Int64, [String: String])] {
        try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, sex, age_years, view_position, manufacturer, model, institution, station, modality, body_part, laterality
                FROM instances WHERE \(IndexSchema.usable) ORDER BY id
                """).map { r in
                var a: [String: String] = [:]
                for key in ["sex", "view_position", "manufacturer", "model", "institution", "station", "modality", "body_part", "laterality"] {
                    if let v: String = r[key], !v.isEmpty { a[key] = v }
                }
                if let age: Double = r["age_years"] { a["age_years"] = String(age) }
                return (r["id"], a)
            }
        }
    }
}
