import Foundation
import GRDB
import Store

/// Everything a study's report shows, read from the index in one place.
struct StudyReport {
    struct Finding {
        var sopInstanceUID: String
        var path: String
        /// The content the index holds for `path` (the SR's source must still have it).
        var contentSha256: String
        var head: String
        var status: String
        var reason: String?
        var probability: Double?
        var calibratedProbability: Double?
        var decision: String?
        var threshold: Double?
        var heatmapPath: String?
        var positiveHeatmapPath: String?
        var modality: String?
        var bodyPart: String?
        var viewPosition: String?
        var laterality: String?
        var modelSha256: String
        var sopClassUID: String?
        var seriesInstanceUID: String?
    }

    struct Aggregate {
        var head: String
        var probability: Double
        var calibratedProbability: Double
        var decision: String
        var rule: String
        var instances: Int
    }

    var studyInstanceUID: String
    /// Whose study this report is: the instances' patient key (PatientID and issuer).
    var patientKey: String
    /// All patient keys of the study when its instances disagree (an identity conflict), else nil.
    var conflict: String?
    var patientID: String?
    var patientName: String?
    var sex: String?
    var age: Double?
    var studyDate: String?
    var description: String?
    var accessionNumber: String?
    var findings: [Finding]
    var aggregates: [Aggregate]

    /// One report per (study, patient): a study whose instances name two patients gives two
    /// reports, each with only its own patient's images. Only studies with results are listed.
    struct Unit {
        var study: String
        var patientKey: String
        var conflict: String?
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
                   r.head, r.status, r.reason, r.probability, r.calibrated_probability, r.decision, r.threshold,
                   r.heatmap_path, r.positive_heatmap_path, r.model_sha256, i.sop_class_uid, i.series_instance_uid
            FROM instances i JOIN results r ON r.instance_ref = i.id
            WHERE i.study_instance_uid = ? AND coalesce(i.patient_key, '') = ? AND i.status = 'ok'
            ORDER BY i.sop_instance_uid, r.head
            """, arguments: [uid, unit.patientKey]).map { r in
            Finding(sopInstanceUID: r["sop_instance_uid"], path: r["path"], contentSha256: r["content_sha256"], head: r["head"],
                    status: r["status"], reason: r["reason"], probability: r["probability"],
                    calibratedProbability: r["calibrated_probability"], decision: r["decision"], threshold: r["threshold"],
                    heatmapPath: r["heatmap_path"], positiveHeatmapPath: r["positive_heatmap_path"],
                    modality: r["modality"], bodyPart: r["body_part"],
                    viewPosition: r["view_position"], laterality: r["laterality"], modelSha256: r["model_sha256"],
                    sopClassUID: r["sop_class_uid"], seriesInstanceUID: r["series_instance_uid"])
        }
        let aggregates = try Row.fetchAll(db, sql: """
            SELECT head, probability, calibrated_probability, decision, rule, instances FROM study_results
            WHERE study_instance_uid = ? AND patient_key = ? ORDER BY head
            """, arguments: [uid, unit.patientKey]).map {
            Aggregate(head: $0["head"], probability: $0["probability"], calibratedProbability: $0["calibrated_probability"],
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

/// A registered model: its head and card, for the report's model summary.
struct ModelSummary {
    var head: String
    var sha256: String
    var card: [String: Any]

    static func loadAll(_ db: Database) throws -> [String: ModelSummary] {
        var out: [String: ModelSummary] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT head, weights_sha256, card_json FROM models") {
            let json: String = row["card_json"]
            let card = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
            out[row["weights_sha256"]] = ModelSummary(head: row["head"], sha256: row["weights_sha256"], card: card)
        }
        return out
    }
}
