import DICOM
import Foundation
import GRDB

/// Writes ingest records into the index. Every value is bound as an SQL parameter;
/// nothing read from a file is ever spliced into SQL text.
enum IndexWriter {
    /// Path → stamp of every stored instance, to tell changed files from unchanged ones.
    static func stamps(_ db: Database) throws -> [String: StoredStamp] {
        var out: [String: StoredStamp] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT path, file_size, file_mtime, content_sha256, status, error FROM instances")
        while let row = try rows.next() {
            out[row["path"]] = StoredStamp(size: row["file_size"], mtime: row["file_mtime"],
                                           sha256: row["content_sha256"], status: row["status"], error: row["error"])
        }
        return out
    }

    /// Writes one record. Returns true when a row was added or changed.
    @discardableResult
    static func write(_ record: IngestRecord, at time: String, _ db: Database) throws -> Bool {
        switch record.outcome {
        case .unchanged, .skipped, .directory:
            return false
        case .touched:
            try db.execute(sql: "UPDATE instances SET file_size = ?, file_mtime = ? WHERE path = ?",
                           arguments: [record.size, record.mtime, record.path])
            return false
        case let .failed(reason):
            try db.execute(sql: """
                INSERT INTO instances (path, file_size, file_mtime, content_sha256, status, error, ingested_at)
                VALUES (?, ?, ?, ?, 'error', ?, ?)
                ON CONFLICT(path) DO UPDATE SET file_size = excluded.file_size, file_mtime = excluded.file_mtime,
                    content_sha256 = excluded.content_sha256, status = 'error', error = excluded.error,
                    ingested_at = excluded.ingested_at, series_ref = NULL, duplicate_of = NULL
                """, arguments: [record.path, record.size, record.mtime, record.sha256 ?? "", reason, time])
            return true
        case let .parsed(instance):
            let seriesRef = try hierarchy(instance, db)
            try upsertInstance(record, instance, seriesRef: seriesRef, time: time, db)
            return true
        }
    }

    /// Upserts patient, study and series; returns the series row id (nil without UIDs).
    static func hierarchy(_ i: Instance, _ db: Database) throws -> Int64? {
        guard let studyUID = i.studyInstanceUID, let seriesUID = i.seriesInstanceUID else { return nil }
        let patientKey = i.patientID ?? "(no PatientID) study \(studyUID)"
        let patient = try Int64.fetchOne(db, sql: """
            INSERT INTO patients (patient_key, patient_id, patient_name, sex, birth_date) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(patient_key) DO UPDATE SET
                patient_name = coalesce(excluded.patient_name, patient_name),
                sex = coalesce(excluded.sex, sex), birth_date = coalesce(excluded.birth_date, birth_date)
            RETURNING id
            """, arguments: [patientKey, i.patientID, i.patientName, i.patientSex, i.patientBirthDate])
        let study = try Int64.fetchOne(db, sql: """
            INSERT INTO studies (study_instance_uid, patient_ref, study_date, description, accession_number)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(study_instance_uid) DO UPDATE SET
                study_date = coalesce(excluded.study_date, study_date),
                description = coalesce(excluded.description, description),
                accession_number = coalesce(excluded.accession_number, accession_number)
            RETURNING id
            """, arguments: [studyUID, patient, i.studyDate, i.studyDescription, i.accessionNumber])
        return try Int64.fetchOne(db, sql: """
            INSERT INTO series (series_instance_uid, study_ref, modality, body_part, series_number, description,
                                manufacturer, model, institution, station)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(series_instance_uid) DO UPDATE SET
                modality = coalesce(excluded.modality, modality), body_part = coalesce(excluded.body_part, body_part),
                series_number = coalesce(excluded.series_number, series_number),
                description = coalesce(excluded.description, description),
                manufacturer = coalesce(excluded.manufacturer, manufacturer), model = coalesce(excluded.model, model),
                institution = coalesce(excluded.institution, institution), station = coalesce(excluded.station, station)
            RETURNING id
            """, arguments: [seriesUID, study, i.modality, i.bodyPart, i.seriesNumber, i.seriesDescription,
                             i.manufacturer, i.manufacturerModel, i.institution, i.station])
    }

    static func upsertInstance(_ r: IngestRecord, _ i: Instance, seriesRef: Int64?, time: String, _ db: Database) throws {
        // The first stored file with this SOP Instance UID is the original; later ones point to it.
        let original = try Int64.fetchOne(db, sql: """
            SELECT min(id) FROM instances WHERE sop_instance_uid = ? AND path <> ? AND status = 'ok'
            """, arguments: [i.sopInstanceUID, r.path])
        let spacing = i.pixelSpacing.map { $0.map { String($0) }.joined(separator: "\\") }
        let columns = [
            "path", "file_size", "file_mtime", "content_sha256", "status", "error", "ingested_at", "series_ref",
            "duplicate_of", "sop_instance_uid", "sop_class_uid", "study_instance_uid", "series_instance_uid",
            "patient_id", "sex", "age_years", "modality", "body_part", "view_position", "laterality", "manufacturer",
            "model", "institution", "station", "photometric", "rows", "columns", "frames", "bits_allocated",
            "bits_stored", "pixel_representation", "transfer_syntax", "pixel_spacing", "window_center",
            "window_width", "has_pixel_data",
        ]
        let values: [(any DatabaseValueConvertible)?] = [
            r.path, r.size, r.mtime, r.sha256 ?? "", "ok", nil, time, seriesRef,
            original, i.sopInstanceUID, i.sopClassUID, i.studyInstanceUID, i.seriesInstanceUID,
            i.patientID, i.patientSex, i.ageYears, i.modality, i.bodyPart, i.viewPosition, i.laterality, i.manufacturer,
            i.manufacturerModel, i.institution, i.station, i.photometric, i.rows, i.columns, i.frames, i.bitsAllocated,
            i.bitsStored, i.pixelRepresentation, i.transferSyntaxUID, spacing, i.windowCenter,
            i.windowWidth, i.hasPixelData,
        ]
        let updates = columns.dropFirst().map { "\"\($0)\" = excluded.\"\($0)\"" }.joined(separator: ", ")
        try db.execute(sql: """
            INSERT INTO instances (\(columns.map { "\"\($0)\"" }.joined(separator: ", ")))
            VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))
            ON CONFLICT(path) DO UPDATE SET \(updates)
            """, arguments: StatementArguments(values))
    }
}

extension IndexWriter {
    /// True when another stored file already carries this SOP Instance UID.
    static func isDuplicate(_ sopInstanceUID: String, path: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: """
            SELECT EXISTS (SELECT 1 FROM instances WHERE sop_instance_uid = ? AND path <> ? AND status = 'ok')
            """, arguments: [sopInstanceUID, path]) ?? false
    }
}
