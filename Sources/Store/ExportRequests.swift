import Foundation
import GRDB

/// A value of an exported row, typed so that CSV and JSON Lines writers render it faithfully:
/// JSON columns (logits, audit results, calibrators) stay JSON in JSON Lines.
public enum ExportValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case json(String)
}

/// What `dxkit export --what` exports: one row per result (with its instance's patient, study and
/// series identifiers, head, model, dxkit version, threshold and times), per study result, per
/// stored audit, or per calibration.
public enum ExportKind: String, CaseIterable, Sendable {
    case results, studies, audits, calibrations
}

extension IndexDatabase {
    /// The columns `kind` exports, in order.
    public static func exportColumns(_ kind: ExportKind) -> [String] { ExportRequest.of(kind).columns.map(\.name) }

    /// Calls `row` with each exported row, in a stable order, streaming (memory does not grow with
    /// the index). Heatmap paths are absolute.
    public func export(_ kind: ExportKind, row: ([ExportValue]) throws -> Void) throws {
        let request = ExportRequest.of(kind)
        try queue.read { db in
            let cursor = try Row.fetchCursor(db, sql: request.sql)
            while let r = try cursor.next() {
                try row(request.columns.map { column in
                    let value = r[column.name] as DatabaseValue
                    switch value.storage {
                    case .null: return .null
                    case let .int64(i): return column.kind == .real ? .real(Double(i)) : .integer(i)
                    case let .double(d): return .real(d)
                    case let .string(s):
                        switch column.kind {
                        case .json: return .json(s)
                        case .path: return .text(StoredPath.resolve(s, database: path))
                        default: return .text(s)
                        }
                    case .blob: return .null
                    }
                })
            }
        }
    }
}

/// The SQL and typed columns of one export.
struct ExportRequest {
    enum Kind { case text, integer, real, json, path }
    struct Column { let name: String; let kind: Kind }

    let columns: [Column]
    let sql: String

    static func of(_ kind: ExportKind) -> ExportRequest {
        func c(_ spec: String) -> [Column] {
            spec.split(separator: " ").map { item in
                let parts = item.split(separator: ":")
                let kind: Kind = parts.count < 2 ? .text
                    : ["i": .integer, "r": .real, "j": .json, "p": .path][String(parts[1])] ?? .text
                return Column(name: String(parts[0]), kind: kind)
            }
        }
        switch kind {
        case .results:
            return ExportRequest(columns: c("""
                sop_instance_uid study_instance_uid series_instance_uid patient_id patient_key sex age_years:r modality body_part \
                view_position laterality manufacturer institution path head finding model_name model_sha256 status reason probability:r \
                calibrated_probability:r decision threshold:r logits:j heatmap_path:p positive_heatmap_path:p seconds:r scored_at \
                run_id:i dxkit_version run_started_at run_finished_at ingested_at
                """), sql: """
                SELECT i.sop_instance_uid, i.study_instance_uid, i.series_instance_uid, i.patient_id, i.patient_key, i.sex, i.age_years,
                       i.modality, i.body_part, i.view_position, i.laterality, i.manufacturer, i.institution, i.path, r.head,
                       r.finding, m.name AS model_name, r.model_sha256, r.status, r.reason, r.probability, r.calibrated_probability, r.decision,
                       r.threshold, r.logits, r.heatmap_path, r.positive_heatmap_path, r.seconds, r.scored_at, r.run_ref AS run_id,
                       u.dxkit_version, u.started_at AS run_started_at, u.finished_at AS run_finished_at, i.ingested_at
                FROM results r JOIN instances i ON i.id = r.instance_ref
                LEFT JOIN models m ON m.head = r.head AND m.weights_sha256 = r.model_sha256
                LEFT JOIN runs u ON u.id = r.run_ref
                ORDER BY i.study_instance_uid, i.sop_instance_uid, i.path, r.head, r.model_sha256, r.id
                """)
        case .studies:
            return ExportRequest(columns: c("""
                study_instance_uid patient_key patient_id study_date accession_number description head finding model_name model_sha256 \
                probability:r calibrated_probability:r decision rule instances:i identity_conflict updated_at
                """), sql: """
                SELECT sr.study_instance_uid, sr.patient_key, p.patient_id, s.study_date, s.accession_number, s.description, sr.head,
                       sr.finding, m.name AS model_name, sr.model_sha256, sr.probability, sr.calibrated_probability, sr.decision, sr.rule,
                       sr.instances, s.conflict AS identity_conflict, sr.updated_at
                FROM study_results sr LEFT JOIN studies s ON s.study_instance_uid = sr.study_instance_uid
                LEFT JOIN patients p ON p.patient_key = sr.patient_key
                LEFT JOIN models m ON m.head = sr.head AND m.weights_sha256 = sr.model_sha256
                ORDER BY sr.study_instance_uid, sr.patient_key, sr.head, sr.model_sha256, sr.id
                """)
        case .audits:
            return ExportRequest(columns: c("audit_id:i kind head finding model_sha256 labels_sha256 created_at parameters:j results:j"), sql: """
                SELECT id AS audit_id, kind, head, finding, model_sha256, labels_sha256, created_at, parameters, results FROM audits ORDER BY id
                """)
        case .calibrations:
            return ExportRequest(columns: c("""
                calibration_id:i head finding model_sha256 method calibrator:j threshold:r threshold_rule n:i labels_sha256 metrics:j fitted_at active:i
                """), sql: """
                SELECT id AS calibration_id, head, finding, model_sha256, method, calibrator, threshold, threshold_rule, n, labels_sha256, metrics,
                       fitted_at, active FROM calibrations ORDER BY id
                """)
        }
    }
}
