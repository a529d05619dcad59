import Foundation
import GRDB

/// Everything a study's report shows, read from the index in one place (`IndexDatabase.studyReport`).
public struct StudyReport {
    public struct Finding {
        public var sopInstanceUID: String
        public var path: String
        /// The content the index holds for `path` (the SR's source must still have it).
        public var contentSha256: String
        public var head: String
        /// `""` for a single-label head's one finding; a multi-label head's finding name otherwise.
        public var finding: String
        public var status: String
        public var reason: String?
        public var probability: Double?
        public var calibratedProbability: Double?
        public var decision: String?
        public var threshold: Double?
        public var heatmapPath: String?
        public var positiveHeatmapPath: String?
        public var modality: String?
        public var bodyPart: String?
        public var viewPosition: String?
        public var laterality: String?
        public var modelSha256: String
        public var sopClassUID: String?
        public var seriesInstanceUID: String?
    }

    public struct Aggregate {
        public var head: String
        /// `""` for a single-label head.
        public var finding: String
        public var probability: Double
        public var calibratedProbability: Double
        public var decision: String
        public var rule: String
        public var instances: Int
    }

    public var studyInstanceUID: String
    /// Whose study this report is: the instances' patient key (PatientID and issuer).
    public var patientKey: String
    /// All patient keys of the study when its instances disagree (an identity conflict), else nil.
    public var conflict: String?
    public var patientID: String?
    public var patientName: String?
    public var sex: String?
    public var age: Double?
    public var studyDate: String?
    public var description: String?
    public var accessionNumber: String?
    public var findings: [Finding]
    public var aggregates: [Aggregate]

    /// One report per (study, patient): a study whose instances name two patients gives two
    /// reports, each with only its own patient's images. Only studies with results are listed.
    public struct Unit {
        public var study: String
        public var patientKey: String
        public var conflict: String?
    }

    static func units(_ db: Database) throws -> [Unit] {
        try Row.fetchAll(db, sql: """
            SELECT DISTINCT i.study_instance_uid AS study, coalesce(i.patient_key, '') AS patient, s.conflict
            FROM instances i JOIN results r ON r.instance_ref = i.id
            LEFT JOIN studies s ON s.study_instance_uid = i.study_instance_uid
            WHERE i.study_instance_uid IS NOT NULL AND i.status = 'ok'
            ORDER BY i.study_instance_uid, patient
            """).map { Unit(study: $0["study"], patientKey: $0["patient"], conflict: $0["conflict"]) }
    }

    static func load(_ unit: Unit, _ db: Database) throws -> StudyReport {
        let uid = unit.study
        let study = try Row.fetchOne(db, sql: """
            SELECT study_date, description, accession_number FROM studies WHERE study_instance_uid = ?
            """, arguments: [uid])
        let patient = try Row.fetchOne(db, sql: """
            SELECT patient_id, patient_name, sex FROM patients WHERE patient_key = ?
            """, arguments: [unit.patientKey])
        let findings = try Row.fetchAll(db, sql: """
            SELECT i.sop_instance_uid, i.path, i.content_sha256, i.modality, i.body_part, i.view_position, i.laterality,
                   r.head, r.finding, r.status, r.reason, r.probability, r.calibrated_probability, r.decision, r.threshold,
                   r.heatmap_path, r.positive_heatmap_path, r.model_sha256, i.sop_class_uid, i.series_instance_uid
            FROM instances i JOIN results r ON r.instance_ref = i.id
            WHERE i.study_instance_uid = ? AND coalesce(i.patient_key, '') = ? AND i.status = 'ok'
            ORDER BY i.sop_instance_uid, r.head, r.id
            """, arguments: [uid, unit.patientKey]).map { r in
            Finding(sopInstanceUID: r["sop_instance_uid"], path: r["path"], contentSha256: r["content_sha256"], head: r["head"],
                    finding: r["finding"], status: r["status"], reason: r["reason"], probability: r["probability"],
                    calibratedProbability: r["calibrated_probability"], decision: r["decision"], threshold: r["threshold"],
                    heatmapPath: r["heatmap_path"], positiveHeatmapPath: r["positive_heatmap_path"],
                    modality: r["modality"], bodyPart: r["body_part"],
                    viewPosition: r["view_position"], laterality: r["laterality"], modelSha256: r["model_sha256"],
                    sopClassUID: r["sop_class_uid"], seriesInstanceUID: r["series_instance_uid"])
        }
        let aggregates = try Row.fetchAll(db, sql: """
            SELECT head, finding, probability, calibrated_probability, decision, rule, instances FROM study_results
            WHERE study_instance_uid = ? AND patient_key = ? ORDER BY head, id
            """, arguments: [uid, unit.patientKey]).map {
            Aggregate(head: $0["head"], finding: $0["finding"], probability: $0["probability"], calibratedProbability: $0["calibrated_probability"],
                      decision: $0["decision"], rule: $0["rule"], instances: $0["instances"])
        }
        let age = try Double.fetchOne(db, sql: """
            SELECT max(age_years) FROM instances WHERE study_instance_uid = ? AND coalesce(patient_key, '') = ?
            """, arguments: [uid, unit.patientKey])
        return StudyReport(studyInstanceUID: uid, patientKey: unit.patientKey, conflict: unit.conflict,
                           patientID: patient?["patient_id"], patientName: patient?["patient_name"], sex: patient?["sex"],
                           age: age, studyDate: study?["study_date"], description: study?["description"],
                           accessionNumber: study?["accession_number"], findings: findings, aggregates: aggregates)
    }

    /// Which indexed instances no study report shows: no Study Instance UID, or no pixel data.
    static let unreportedFilter = """
        status = 'ok' AND duplicate_of IS NULL AND (study_instance_uid IS NULL OR coalesce(has_pixel_data, 0) = 0)
        """

    static func unreportedCount(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM instances WHERE \(unreportedFilter)") ?? 0
    }

    /// The first `limit` of them by path, with why.
    static func unreported(_ db: Database, limit: Int = 500) throws -> [(path: String, sop: String?, reason: String)] {
        try Row.fetchAll(db, sql: """
            SELECT path, sop_instance_uid, study_instance_uid IS NULL AS no_study FROM instances
            WHERE \(unreportedFilter) ORDER BY path LIMIT ?
            """, arguments: [limit]).map {
            ($0["path"], $0["sop_instance_uid"],
             ($0["no_study"] as Bool) ? "no Study Instance UID (0020,000D)" : "no pixel data (not an image)")
        }
    }
}

/// A model registered in the index: its head, weights and card (as registered, JSON).
public struct RegisteredModel: Sendable {
    public var head: String
    public var sha256: String
    public var cardJSON: String
}

/// The latest scoring run, for a report's provenance.
public struct RunRecord: Sendable {
    public var id: Int64
    public var version: String
    public var startedAt: String
    public var finishedAt: String?
}

extension IndexDatabase {
    /// The (study, patient) pairs that have results, in order.
    public func studyReportUnits() throws -> [StudyReport.Unit] { try queue.read { try StudyReport.units($0) } }

    /// One (study, patient)'s report data.
    public func studyReport(_ unit: StudyReport.Unit) throws -> StudyReport { try queue.read { try StudyReport.load(unit, $0) } }

    /// The first `limit` indexed instances no study report shows (by path), with why.
    public func unreportedInstances(limit: Int = 500) throws -> [(path: String, sop: String?, reason: String)] {
        try queue.read { try StudyReport.unreported($0, limit: limit) }
    }

    public func unreportedCount() throws -> Int { try queue.read { try StudyReport.unreportedCount($0) } }

    /// Every registered model, by weights sha256.
    public func registeredModels() throws -> [String: RegisteredModel] {
        try queue.read { db in
            var out: [String: RegisteredModel] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT head, weights_sha256, card_json FROM models") {
                out[row["weights_sha256"]] = RegisteredModel(head: row["head"], sha256: row["weights_sha256"], cardJSON: row["card_json"])
            }
            return out
        }
    }

    /// The most recent run, nil before any.
    public func latestRun() throws -> RunRecord? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT id, dxkit_version, started_at, finished_at FROM runs ORDER BY id DESC LIMIT 1").map {
                RunRecord(id: $0["id"], version: $0["dxkit_version"], startedAt: $0["started_at"], finishedAt: $0["finished_at"])
            }
        }
    }
}
