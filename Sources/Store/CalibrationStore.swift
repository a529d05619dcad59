import Foundation
import GRDB

/// A stored calibration of one head's model and finding: the fitted map (JSON) and the operating threshold.
public struct StoredCalibration: Sendable {
    public var id: Int64
    /// `""` for a single-label head.
    public var finding: String
    public var method: String
    public var calibratorJSON: String
    public var threshold: Double
    public var thresholdRule: String
}

extension ResultStore {
    /// Scored results of `head`'s model and `finding` for the given instances: instance id → probability.
    public func probabilities(head: String, modelSha256: String, finding: String = "", instances: [Int64]) throws -> [Int64: Double] {
        let wanted = Set(instances)
        return try database.queue.read { db in
            var out: [Int64: Double] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT instance_ref, probability FROM results
                WHERE head = ? AND model_sha256 = ? AND finding = ? AND status = 'scored'
                """, arguments: [head, modelSha256, finding])
            while let row = try rows.next() {
                let id: Int64 = row["instance_ref"]
                if wanted.contains(id) { out[id] = row["probability"] }
            }
            return out
        }
    }

    /// Stores a calibration as the active one for (head, model, finding); earlier ones stay, inactive.
    public func saveCalibration(head: String, modelSha256: String, finding: String = "", method: String, calibratorJSON: String,
                                threshold: Double, thresholdRule: String, n: Int, labelsSha256: String,
                                metricsJSON: String) throws -> Int64 {
        try database.queue.write { db in
            try db.execute(sql: "UPDATE calibrations SET active = 0 WHERE head = ? AND model_sha256 = ? AND finding = ?",
                           arguments: [head, modelSha256, finding])
            try db.execute(sql: """
                INSERT INTO calibrations (head, model_sha256, finding, method, calibrator, threshold, threshold_rule, n, labels_sha256,
                                          metrics, fitted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [head, modelSha256, finding, method, calibratorJSON, threshold, thresholdRule, n, labelsSha256,
                                 metricsJSON, Self.now()])
            return db.lastInsertedRowID
        }
    }

    public func activeCalibration(head: String, modelSha256: String, finding: String = "") throws -> StoredCalibration? {
        try database.queue.read { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM calibrations WHERE head = ? AND model_sha256 = ? AND finding = ? AND active = 1 ORDER BY id DESC LIMIT 1
                """, arguments: [head, modelSha256, finding]).map {
                StoredCalibration(id: $0["id"], finding: $0["finding"], method: $0["method"], calibratorJSON: $0["calibrator"],
                                  threshold: $0["threshold"], thresholdRule: $0["threshold_rule"])
            }
        }
    }

    /// Rewrites calibrated probabilities and decisions of existing results of one finding without
    /// re-running the network: `decide` gives each raw probability its calibrated value and decision.
    public func recalibrate(head: String, modelSha256: String, finding: String = "", threshold: Double,
                            decide: (Double) -> (calibrated: Double, decision: String)) throws -> Int {
        try database.queue.write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, probability FROM results WHERE head = ? AND model_sha256 = ? AND finding = ? AND status = 'scored'
                """, arguments: [head, modelSha256, finding])
            for row in rows {
                let (c, decision) = decide(row["probability"])
                try db.execute(sql: "UPDATE results SET calibrated_probability = ?, decision = ?, threshold = ? WHERE id = ?",
                               arguments: [c, decision, threshold, row["id"] as Int64])
            }
            return rows.count
        }
    }
}
