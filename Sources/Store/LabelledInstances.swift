import GRDB

/// An indexed image that a labels file refers to, with its patient (for patient-level splits).
public struct LabelledInstance: Sendable {
    public var instanceID: Int64
    public var path: String
    public var sopInstanceUID: String
    public var studyInstanceUID: String?
    public var patient: String
    public var sha256: String
}

extension IndexDatabase {
    /// Decodable instances matching each key (`sop_instance_uid`, `study_instance_uid` or `path`);
    /// keys that match nothing are absent from the result.
    public func instances(matching keys: [String], column: String) throws -> [String: [LabelledInstance]] {
        guard ["sop_instance_uid", "study_instance_uid", "path"].contains(column) else {
            throw StoreError(file: path, reason: "unknown key column \(column)")
        }
        // One scan of the usable instances (a query per key took minutes at 100,000 labels).
        let wanted = Set(keys)
        return try queue.read { db in
            var out: [String: [LabelledInstance]] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT id, path, sop_instance_uid, study_instance_uid, coalesce(patient_id, study_instance_uid, path) AS patient,
                       content_sha256, \(column) AS key
                FROM instances WHERE \(IndexSchema.usable) AND \(column) IS NOT NULL
                ORDER BY id
                """)
            while let row = try rows.next() {
                let key: String = row["key"]
                guard wanted.contains(key) else { continue }
                out[key, default: []].append(
                    LabelledInstance(instanceID: row["id"], path: row["path"], sopInstanceUID: row["sop_instance_uid"],
                                     studyInstanceUID: row["study_instance_uid"], patient: row["patient"], sha256: row["content_sha256"]))
            }
            return out
        }
    }
}
