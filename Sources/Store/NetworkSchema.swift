import GRDB

/// Tables of the network side (issue 16): instances received by `dxkit listen`/`retrieve`, the
/// studies waiting to be reported, the DICOM objects dxkit wrote (SR, heatmaps) with their derived
/// UIDs, and where each was sent.
enum NetworkSchema {
    static func register(_ m: inout DatabaseMigrator) {
        m.registerMigration("v7-network") { db in
            try db.execute(sql: """
                CREATE TABLE received (
                    id INTEGER PRIMARY KEY,
                    path TEXT NOT NULL UNIQUE,
                    sop_instance_uid TEXT NOT NULL,
                    study_instance_uid TEXT NOT NULL,
                    series_instance_uid TEXT,
                    peer TEXT NOT NULL,                 -- AE@address it came from ('recovered': found on disk at start)
                    transfer_syntax TEXT,
                    received_at REAL NOT NULL           -- seconds since 1970
                );
                CREATE INDEX received_study ON received(study_instance_uid);
                CREATE TABLE received_studies (
                    study_instance_uid TEXT PRIMARY KEY,
                    last_received_at REAL NOT NULL,
                    reported_at REAL                    -- when its report and SR were last written; NULL: not yet
                );
                CREATE TABLE dicom_outputs (
                    id INTEGER PRIMARY KEY,
                    sop_instance_uid TEXT NOT NULL UNIQUE,
                    sop_class_uid TEXT NOT NULL,
                    series_instance_uid TEXT NOT NULL,
                    study_instance_uid TEXT NOT NULL,
                    patient_key TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('sr', 'heatmap')),
                    path TEXT NOT NULL,
                    written_at TEXT NOT NULL
                );
                CREATE INDEX dicom_outputs_study ON dicom_outputs(study_instance_uid);
                CREATE TABLE sent (
                    id INTEGER PRIMARY KEY,
                    sop_instance_uid TEXT NOT NULL,
                    destination TEXT NOT NULL,          -- AE@host:port or a DICOMweb root
                    status TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
                    reason TEXT,
                    sent_at TEXT NOT NULL,
                    UNIQUE (sop_instance_uid, destination)
                );
                """)
        }
    }
}
