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
        return try queue.read { db in
            var out: [String: [LabelledInstance]] = [:]
            for key in Set(keys) {
                let rows = try Row.fetchAll(db, sql: """
                    SELECT id, path, sop_instance_uid, study_instance_uid, coalesce(patient_id, study_instance_uid, path) AS patient,
                           content_sha256
                    FROM instances WHERE \(column) = ? AND \(IndexSchema.usable)
                    ORDER BY id
                    """, arguments: [key])
                if !rows.isEmpty {
                    out[key] = rows.map {
                        LabelledInstance(instanceID: $0["id"], path: $0["path"], sopInstanceUID: $0["sop_instance_uid"],
                                         studyInstanceUID: $0["study_instance_uid"], patient: $0["patient"], sha256: $0["content_sha256"])
                    }
                }
            }
            return out
        }
    }
}
