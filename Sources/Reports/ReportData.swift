import Foundation
import GRDB
import Store

/// Everything a study's report shows, read from the index in one place.
struct StudyReport {
    struct Finding {
        var sopInstanceUID: String
        var path: String
        var head: String
        var status: String
        var reason: String?
        var probability: Double?
        var calibratedProbability: Double?
        var decision: String?
        var threshold: Double?
        var heatmapPath: String?
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
    var patientID: String?
    var patientName: String?
    var sex: String?
    var age: Double?
    var studyDate: String?
    var description: String?
    var accessionNumber: String?
    var findings: [Finding]
    var aggregates: [Aggregate]

    static func loadAll(_ db: Database) throws -> [StudyReport] {
        let studies = try Row.fetchAll(db, sql: """
            SELECT st.study_instance_uid, st.study_date, st.description, st.accession_number,
                   p.patient_id, p.patient_name, p.sex
            FROM studies st JOIN patients p ON p.id = st.patient_ref ORDER BY st.study_instance_uid
            """)
        return try studies.map { s in
            let uid: String = s["study_instance_uid"]
            let findings = try Row.fetchAll(db, sql: """
                SELECT i.sop_instance_uid, i.path, i.modality, i.body_part, i.view_position, i.laterality, i.age_years,
                       r.head, r.status, r.reason, r.probability, r.calibrated_probability, r.decision, r.threshold,
                       r.heatmap_path, r.model_sha256, i.sop_class_uid, i.series_instance_uid
                FROM instances i JOIN results r ON r.instance_ref = i.id
                WHERE i.study_instance_uid = ? ORDER BY i.sop_instance_uid, r.head
                """, arguments: [uid]).map { r in
                Finding(sopInstanceUID: r["sop_instance_uid"], path: r["path"], head: r["head"], status: r["status"],
                        reason: r["reason"], probability: r["probability"], calibratedProbability: r["calibrated_probability"],
                        decision: r["decision"], threshold: r["threshold"], heatmapPath: r["heatmap_path"],
                        modality: r["modality"], bodyPart: r["body_part"], viewPosition: r["view_position"],
                        laterality: r["laterality"], modelSha256: r["model_sha256"],
                        sopClassUID: r["sop_class_uid"], seriesInstanceUID: r["series_instance_uid"])
            }
            let aggregates = try Row.fetchAll(db, sql: """
                SELECT head, probability, calibrated_probability, decision, rule, instances FROM study_results
                WHERE study_instance_uid = ? ORDER BY head
                """, arguments: [uid]).map {
                Aggregate(head: $0["head"], probability: $0["probability"], calibratedProbability: $0["calibrated_probability"],
                          decision: $0["decision"], rule: $0["rule"], instances: $0["instances"])
            }
            let age = try Double.fetchOne(db, sql: "SELECT max(age_years) FROM instances WHERE study_instance_uid = ?", arguments: [uid])
            return StudyReport(studyInstanceUID: uid, patientID: s["patient_id"], patientName: s["patient_name"],
                               sex: s["sex"], age: age, studyDate: s["study_date"], description: s["description"],
                               accessionNumber: s["accession_number"], findings: findings, aggregates: aggregates)
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
