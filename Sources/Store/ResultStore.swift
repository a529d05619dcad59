import Foundation
import GRDB

/// An indexed instance that scoring may take, with the attributes routing rules look at.
public struct ScoringCandidate: Sendable {
    public var instanceID: Int64
    public var path: String
    public var sopInstanceUID: String
    public var studyInstanceUID: String?
    /// The content the index holds for `path`: scoring checks the file still has it.
    public var contentSha256: String
    public var patientKey: String?
    /// Attribute name (as routing rules spell it) → value; absent attributes are missing.
    public var attributes: [String: String]
}

/// One result row: an instance scored by a head's model for one finding, or not applicable, or failed.
public struct ResultRow: Sendable {
    public enum Status: String, Sendable { case scored, notApplicable = "not-applicable", error }
    public var instanceID: Int64
    public var head: String
    /// `""` for a single-label head's one finding (and for not-applicable rows and errors of a
    /// whole image); a multi-label head's finding name otherwise.
    public var finding: String
    public var modelSha256: String
    public var status: Status
    public var reason: String? = nil
    public var logits: [Float]? = nil
    public var probability: Double? = nil
    public var calibratedProbability: Double? = nil
    public var decision: String? = nil
    public var threshold: Double? = nil
    /// The decided class's map; the positive class's too when the decision is negative.
    public var heatmapPath: String? = nil
    public var positiveHeatmapPath: String? = nil
    public var seconds: Double? = nil

    public init(instanceID: Int64, head: String, finding: String = "", modelSha256: String, status: Status) {
        self.instanceID = instanceID
        self.head = head
        self.finding = finding
        self.modelSha256 = modelSha256
        self.status = status
    }
}

/// Scoring's tables: registered models, runs, per-instance results and per-study aggregates.
/// Results are unique per (instance, head, finding, model), so re-running or resuming never doubles them.
public struct ResultStore {
    public let database: IndexDatabase
    public init(database: IndexDatabase) { self.database = database }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }

    public func registerModel(head: String, name: String, weightsSha256: String, cardJSON: String) throws {
        try database.queue.write { db in
            try db.execute(sql: """
                INSERT INTO models (head, name, weights_sha256, card_json, registered_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(head, weights_sha256) DO UPDATE SET card_json = excluded.card_json, name = excluded.name
                """, arguments: [head, name, weightsSha256, cardJSON, Self.now()])
        }
    }

    /// Records a new run. The caller holds the database's `DatabaseLock`, so a run still marked
    /// running belongs to a process that died: it is marked interrupted.
    public func startRun(version: String, heads: [String]) throws -> Int64 {
        try database.queue.write { db in
            try db.execute(sql: "UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
            try db.execute(sql: "INSERT INTO runs (dxkit_version, started_at, heads, pid, uid) VALUES (?, ?, ?, ?, ?)",
                           arguments: [version, Self.now(), heads.joined(separator: ","), Int(getpid()), UUID().uuidString])
            return db.lastInsertedRowID
        }
    }

    /// Marks the instances stored for `paths` as errors with `reason` (their results removed):
    /// used for files quarantined after crashing dxkit.
    public func markErrors(paths: Set<String>, reason: String) throws {
        guard !paths.isEmpty else { return }
        try database.queue.write { db in
            for path in paths {
                guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM instances WHERE path = ?", arguments: [path]) else { continue }
                try db.execute(sql: "DELETE FROM results WHERE instance_ref = ?", arguments: [id])
                try db.execute(sql: "UPDATE instances SET status = 'error', error = ? WHERE id = ?", arguments: [reason, id])
            }
        }
    }

    public func finishRun(_ id: Int64, scored: Int, notApplicable: Int, errors: Int) throws {
        try database.queue.write { db in
            try db.execute(sql: """
                UPDATE runs SET finished_at = ?, scored = ?, not_applicable = ?, errors = ?, status = 'finished' WHERE id = ?
                """, arguments: [Self.now(), scored, notApplicable, errors, id])
        }
    }

    /// Decodable, unique instances (duplicates of another file are left to the original).
    public func candidates() throws -> [ScoringCandidate] {
        try database.queue.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, path, sop_instance_uid, study_instance_uid, content_sha256, patient_key, sop_class_uid, modality,
                       body_part, view_position, laterality, photometric, manufacturer, institution, sex
                FROM instances WHERE \(IndexSchema.usable) ORDER BY id
                """)
            return rows.map { row in
                var attributes: [String: String] = [:]
                for key in ["sop_class_uid", "modality", "body_part", "view_position", "laterality", "photometric",
                            "manufacturer", "institution", "sex"] {
                    if let v: String = row[key], !v.isEmpty { attributes[key] = v }
                }
                return ScoringCandidate(instanceID: row["id"], path: row["path"], sopInstanceUID: row["sop_instance_uid"],
                                        studyInstanceUID: row["study_instance_uid"], contentSha256: row["content_sha256"],
                                        patientKey: row["patient_key"], attributes: attributes)
            }
        }
    }

    /// (instance, head, finding, model) keys already stored.
    public func existingKeys() throws -> Set<String> {
        try database.queue.read { db in
            Set(try Row.fetchAll(db, sql: "SELECT instance_ref, head, finding, model_sha256 FROM results").map {
                Self.key($0["instance_ref"], $0["head"], $0["model_sha256"], finding: $0["finding"])
            })
        }
    }

    public static func key(_ instance: Int64, _ head: String, _ sha: String, finding: String = "") -> String {
        "\(instance)|\(head)|\(finding)|\(sha)"
    }

    /// Writes rows in one transaction (replacing a row with the same key) and removes stale
    /// not-applicable rows of instances that a head now accepts (and a multi-label head's
    /// head-level error row of an image once its findings are written).
    public func write(_ rows: [ResultRow], run: Int64) throws {
        guard !rows.isEmpty else { return }
        let time = Self.now()
        try database.queue.write { db in
            for r in rows {
                let logits = r.logits.map { "[" + $0.map { String($0) }.joined(separator: ",") + "]" }
                try db.execute(sql: """
                    INSERT INTO results (instance_ref, head, finding, model_sha256, run_ref, status, reason, logits, probability,
                                         calibrated_probability, decision, threshold, heatmap_path, positive_heatmap_path,
                                         seconds, scored_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(instance_ref, head, finding, model_sha256) DO UPDATE SET run_ref = excluded.run_ref,
                        status = excluded.status, reason = excluded.reason, logits = excluded.logits,
                        probability = excluded.probability, calibrated_probability = excluded.calibrated_probability,
                        decision = excluded.decision, threshold = excluded.threshold, heatmap_path = excluded.heatmap_path,
                        positive_heatmap_path = excluded.positive_heatmap_path, seconds = excluded.seconds,
                        scored_at = excluded.scored_at
                    """, arguments: [r.instanceID, r.head, r.finding, r.modelSha256, run, r.status.rawValue, r.reason, logits,
                                     r.probability, r.calibratedProbability, r.decision, r.threshold, r.heatmapPath,
                                     r.positiveHeatmapPath, r.seconds, time])
                if r.status != .notApplicable {
                    try db.execute(sql: "DELETE FROM results WHERE instance_ref = ? AND status = 'not-applicable'",
                                   arguments: [r.instanceID])
                }
                if !r.finding.isEmpty {
                    // A multi-label head's finding row replaces the head-level error row of that image.
                    try db.execute(sql: "DELETE FROM results WHERE instance_ref = ? AND head = ? AND model_sha256 = ? AND finding = ''",
                                   arguments: [r.instanceID, r.head, r.modelSha256])
                }
            }
        }
    }

    /// The scored results of `head`'s model that belong to a study, in index order: what study
    /// aggregation combines (per study, patient and finding, by the card's rule).
    public func scoredForAggregation(head: String, modelSha256: String) throws -> [ScoredForStudy] {
        try database.queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.study_instance_uid AS study, coalesce(i.patient_key, '') AS patient, i.laterality AS side,
                       r.finding, r.probability AS p, r.calibrated_probability AS cp
                FROM results r JOIN instances i ON i.id = r.instance_ref
                WHERE r.head = ? AND r.model_sha256 = ? AND r.status = 'scored' AND i.status = 'ok'
                      AND i.study_instance_uid IS NOT NULL
                ORDER BY i.id
                """, arguments: [head, modelSha256]).map {
                let p: Double = $0["p"]
                return ScoredForStudy(study: $0["study"], patientKey: $0["patient"], finding: $0["finding"], side: $0["side"] ?? "",
                                      probability: p, calibratedProbability: $0["cp"] ?? p)
            }
        }
    }

    /// Replaces every study row of `head`'s model with `rows` in one transaction (studies left
    /// without scored instances lose theirs).
    public func replaceStudyResults(head: String, modelSha256: String, rows: [StudyResultRow]) throws {
        let time = Self.now()
        try database.queue.write { db in
            try db.execute(sql: "DELETE FROM study_results WHERE head = ? AND model_sha256 = ?", arguments: [head, modelSha256])
            for r in rows {
                try db.execute(sql: """
                    INSERT INTO study_results (study_instance_uid, patient_key, head, finding, model_sha256, probability,
                                               calibrated_probability, decision, rule, instances, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [r.study, r.patientKey, head, r.finding, modelSha256, r.probability, r.calibratedProbability,
                                     r.decision, r.rule, r.instances, time])
            }
        }
    }
}

/// A scored result as study aggregation reads it.
public struct ScoredForStudy: Sendable {
    public var study: String
    public var patientKey: String
    /// `""` for a single-label head.
    public var finding: String
    public var side: String
    public var probability: Double
    public var calibratedProbability: Double
}

/// One study's (and patient's) combined result for a head's finding (`""`: a single-label head's).
public struct StudyResultRow: Sendable {
    public var study: String
    public var patientKey: String
    public var finding: String
    public var probability: Double
    public var calibratedProbability: Double
    public var decision: String
    public var rule: String
    public var instances: Int
    public init(study: String, patientKey: String, finding: String = "", probability: Double, calibratedProbability: Double,
                decision: String, rule: String, instances: Int) {
        self.study = study
        self.patientKey = patientKey
        self.finding = finding
        self.probability = probability
        self.calibratedProbability = calibratedProbability
        self.decision = decision
        self.rule = rule
        self.instances = instances
    }
}
