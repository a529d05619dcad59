import Foundation
import GRDB

/// A stored calibration of one head's model: the fitted map (JSON) and the operating threshold.
public struct StoredCalibration: Sendable {
    public var id: Int64
    public var method: String
    public var calibratorJSON: String
    public var threshold: Double
    public var thresholdRule: String
}

extension ResultStore {
    /// Scored results of `head`'s model for the given instances: instance id → probability.
    public func probabilities(head: String, modelSha256: String, instances: [Int64]) throws -> [Int64: Double] {
        let wanted = Set(instances)
        return try database.queue.read { db in
            var out: [Int64: Double] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT instance_ref, probability FROM results WHERE head = ? AND model_sha256 = ? AND status = 'scored'
                """, arguments: [head, modelSha256])
            while let row = try rows.next() {
                let id: Int64 = row["instance_ref"]
                if wanted.contains(id) { out[id] = row["probability"] }
            }
            return out
        }
    }

    /// Stores a calibration as the active one for (head, model); earlier ones stay, inactive.
    public func saveCalibration(head: String, modelSha256: String, method: String, calibratorJSON: String, threshold: Double,
                                thresholdRule: String, n: Int, labelsSha256: String, metricsJSON: String) throws -> Int64 {
        try database.queue.write { db in
            try db.execute(sql: "UPDATE calibrations SET active = 0 WHERE head = ? AND model_sha256 = ?",
                           arguments: [head, modelSha256])
            try db.execute(sql: """
                INSERT INTO calibrations (head, model_sha256, method, calibrator, threshold, threshold_rule, n, labels_sha256,
                                          metrics, fitted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [head, modelSha256, method, calibratorJSON, threshold, thresholdRule, n, labelsSha256,
                                 metricsJSON, Self.now()])
            return db.lastInsertedRowID
        }
    }

    public func activeCalibration(head: String, modelSha256: String) throws -> StoredCalibration? {
        try database.queue.read { db in
            try Row.fetchOne(db, sql: """
                SELECT * FROM calibrations WHERE head = ? AND model_sha256 = ? AND active = 1 ORDER BY id DESC LIMIT 1
                """, arguments: [head, modelSha256]).map {
                StoredCalibration(id: $0["id"], method: $0["method"], calibratorJSON: $0["calibrator"],
                                  threshold: $0["threshold"], thresholdRule: $0["threshold_rule"])
            }
        }
    }

    /// Rewrites calibrated probabilities and decisions of existing results without re-running the
    /// network: `decide` gives each raw probability its calibrated value and decision.
    public func recalibrate(head: String, modelSha256: String, threshold: Double,
                            decide: (Double) -> (calibrated: Double, decision: String)) throws -> Int {
        try database.queue.write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, probability FROM results WHERE head = ? AND model_sha256 = ? AND status = 'scored'
                """, arguments: [head, modelSha256])
            for row in rows {
                let (c, decision) = decide(row["probability"])
                try db.execute(sql: "UPDATE results SET calibrated_probability = ?, decision = ?, threshold = ? WHERE id = ?",
                               arguments: [c, decision, threshold, row["id"] as Int64])
            }
            return rows.count
        }
    }
}
