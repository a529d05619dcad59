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

    /// Writes one record. Returns the Study Instance UIDs whose membership may have changed (the
    /// file's old study and its new one), for `updateConflicts`.
    ///
    /// When a stored file's content changed, its results are deleted in the same transaction:
    /// they were computed from other pixels, maybe of another patient, and must never be shown
    /// under the new content's identity. Scoring finds the instance unscored and scores it again.
    @discardableResult
    static func write(_ record: IngestRecord, at time: String, _ db: Database) throws -> Set<String> {
        var studies = Set<String>()
        switch record.outcome {
        case .unchanged, .skipped, .directory, .touched:
            break
        case .failed, .parsed:
            if let old = try Row.fetchOne(db, sql: "SELECT id, content_sha256, study_instance_uid FROM instances WHERE path = ?",
                                          arguments: [record.path]) {
                if let study: String = old["study_instance_uid"] { studies.insert(study) }
                if (old["content_sha256"] as String?) != record.sha256 {
                    try db.execute(sql: "DELETE FROM results WHERE instance_ref = ?", arguments: [old["id"] as Int64])
                }
            }
        }
        switch record.outcome {
        case .unchanged, .skipped, .directory:
            return studies
        case .touched:
            try db.execute(sql: "UPDATE instances SET file_size = ?, file_mtime = ? WHERE path = ?",
                           arguments: [record.size, record.mtime, record.path])
            return studies
        case let .failed(reason):
            try db.execute(sql: """
                INSERT INTO instances (path, file_size, file_mtime, content_sha256, status, error, ingested_at)
                VALUES (?, ?, ?, ?, 'error', ?, ?)
                ON CONFLICT(path) DO UPDATE SET file_size = excluded.file_size, file_mtime = excluded.file_mtime,
                    content_sha256 = excluded.content_sha256, status = 'error', error = excluded.error,
                    ingested_at = excluded.ingested_at, series_ref = NULL, duplicate_of = NULL,
                    sop_instance_uid = NULL, study_instance_uid = NULL, patient_key = NULL, has_pixel_data = NULL
                """, arguments: [record.path, record.size, record.mtime, record.sha256 ?? "", reason, time])
            return studies
        case let .parsed(instance):
            let seriesRef = try hierarchy(instance, db)
            try upsertInstance(record, instance, seriesRef: seriesRef, time: time, db)
            if let study = instance.studyInstanceUID { studies.insert(study) }
            return studies
        }
    }

    /// Marks each given study whose stored instances name more than one patient (PatientID with
    /// its issuer) as a conflict, and clears the mark where they agree again.
    static func updateConflicts(_ studies: Set<String>, _ db: Database) throws {
        for study in studies {
            let keys = try String.fetchAll(db, sql: """
                SELECT DISTINCT patient_key FROM instances
                WHERE study_instance_uid = ? AND status = 'ok' AND patient_key IS NOT NULL ORDER BY patient_key
                """, arguments: [study])
            try db.execute(sql: "UPDATE studies SET conflict = ? WHERE study_instance_uid = ?",
                           arguments: [keys.count > 1 ? keys.joined(separator: " | ") : nil, study])
        }
    }

    /// Upserts patient, study and series; returns the series row id (nil without UIDs).
    static func hierarchy(_ i: Instance, _ db: Database) throws -> Int64? {
        guard let studyUID = i.studyInstanceUID, let seriesUID = i.seriesInstanceUID else { return nil }
        let patientKey = i.patientKey
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
            "window_width", "has_pixel_data", "patient_key",
        ]
        let values: [(any DatabaseValueConvertible)?] = [
            r.path, r.size, r.mtime, r.sha256 ?? "", "ok", nil, time, seriesRef,
            original, i.sopInstanceUID, i.sopClassUID, i.studyInstanceUID, i.seriesInstanceUID,
            i.patientID, i.patientSex, i.ageYears, i.modality, i.bodyPart, i.viewPosition, i.laterality, i.manufacturer,
            i.manufacturerModel, i.institution, i.station, i.photometric, i.rows, i.columns, i.frames, i.bitsAllocated,
            i.bitsStored, i.pixelRepresentation, i.transferSyntaxUID, spacing, i.windowCenter,
            i.windowWidth, i.hasPixelData, i.patientKey,
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

extension IndexWriter {
    /// Conflicted studies that hold one of `paths`: study UID and the patient keys it mixes.
    static func conflicts(among paths: Set<String>, _ db: Database) throws -> [(study: String, patients: String)] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT DISTINCT s.study_instance_uid, s.conflict, i.path FROM studies s
            JOIN instances i ON i.study_instance_uid = s.study_instance_uid WHERE s.conflict IS NOT NULL
            """)
        var seen = Set<String>(), out: [(study: String, patients: String)] = []
        for row in rows where paths.contains(row["path"]) {
            let study: String = row["study_instance_uid"]
            if seen.insert(study).inserted { out.append((study, row["conflict"])) }
        }
        return out.sorted { $0.study < $1.study }
    }

    /// How many of `paths` are indexed images no report can show: (no Study Instance UID, no pixel data).
    static func unreportable(among paths: Set<String>, _ db: Database) throws -> (Int, Int) {
        var noStudy = 0, noPixels = 0
        let rows = try Row.fetchCursor(db, sql: """
            SELECT path, study_instance_uid IS NULL AS no_study, coalesce(has_pixel_data, 0) = 0 AS no_pixels
            FROM instances WHERE status = 'ok' AND duplicate_of IS NULL AND (study_instance_uid IS NULL OR coalesce(has_pixel_data, 0) = 0)
            """)
        while let row = try rows.next() {
            guard paths.contains(row["path"]) else { continue }
            if row["no_study"] as Bool { noStudy += 1 }
            if row["no_pixels"] as Bool { noPixels += 1 }
        }
        return (noStudy, noPixels)
    }
}
