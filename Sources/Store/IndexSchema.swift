import GRDB

/// Tables of the index. Every instance row keeps the attributes users filter on, so one
/// table answers most questions; patients, studies and series hold the hierarchy.
enum IndexSchema {
    /// Instances scoring, training and audits take: indexed without error, with pixel data, and
    /// not a duplicate of another file's SOP Instance UID (left to the original).
    static let usable = "status = 'ok' AND has_pixel_data = 1 AND duplicate_of IS NULL"

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-index") { db in
            try db.execute(sql: """
                CREATE TABLE patients (
                    id INTEGER PRIMARY KEY,
                    patient_key TEXT NOT NULL UNIQUE,   -- PatientID, or a stand-in when it is missing
                    patient_id TEXT,
                    patient_name TEXT,
                    sex TEXT,
                    birth_date TEXT
                );
                CREATE TABLE studies (
                    id INTEGER PRIMARY KEY,
                    study_instance_uid TEXT NOT NULL UNIQUE,
                    patient_ref INTEGER NOT NULL REFERENCES patients(id),
                    study_date TEXT,
                    description TEXT,
                    accession_number TEXT
                );
                CREATE TABLE series (
                    id INTEGER PRIMARY KEY,
                    series_instance_uid TEXT NOT NULL UNIQUE,
                    study_ref INTEGER NOT NULL REFERENCES studies(id),
                    modality TEXT,
                    body_part TEXT,
                    series_number INTEGER,
                    description TEXT,
                    manufacturer TEXT,
                    model TEXT,
                    institution TEXT,
                    station TEXT
                );
                CREATE TABLE instances (
                    id INTEGER PRIMARY KEY,
                    path TEXT NOT NULL UNIQUE,
                    file_size INTEGER NOT NULL,
                    file_mtime REAL NOT NULL,
                    content_sha256 TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
                    error TEXT,
                    ingested_at TEXT NOT NULL,
                    series_ref INTEGER REFERENCES series(id),
                    duplicate_of INTEGER REFERENCES instances(id) ON DELETE SET NULL,
                    sop_instance_uid TEXT,
                    sop_class_uid TEXT,
                    study_instance_uid TEXT,
                    series_instance_uid TEXT,
                    patient_id TEXT,
                    sex TEXT,
                    age_years REAL,
                    modality TEXT,
                    body_part TEXT,
                    view_position TEXT,
                    laterality TEXT,
                    manufacturer TEXT,
                    model TEXT,
                    institution TEXT,
                    station TEXT,
                    photometric TEXT,
                    rows INTEGER,
                    columns INTEGER,
                    frames INTEGER,
                    bits_allocated INTEGER,
                    bits_stored INTEGER,
                    pixel_representation INTEGER,
                    transfer_syntax TEXT,
                    pixel_spacing TEXT,
                    window_center REAL,
                    window_width REAL,
                    has_pixel_data INTEGER
                );
                CREATE INDEX instances_sop ON instances(sop_instance_uid);
                CREATE INDEX instances_series ON instances(series_ref);
                CREATE INDEX instances_status ON instances(status);
                """)
        }
        m.registerMigration("v2-scoring") { db in
            try db.execute(sql: """
                CREATE TABLE models (
                    id INTEGER PRIMARY KEY,
                    head TEXT NOT NULL,
                    name TEXT NOT NULL,
                    weights_sha256 TEXT NOT NULL,
                    card_json TEXT NOT NULL,
                    registered_at TEXT NOT NULL,
                    UNIQUE (head, weights_sha256)
                );
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY,
                    dxkit_version TEXT NOT NULL,
                    started_at TEXT NOT NULL,
                    finished_at TEXT,
                    heads TEXT NOT NULL,
                    scored INTEGER NOT NULL DEFAULT 0,
                    not_applicable INTEGER NOT NULL DEFAULT 0,
                    errors INTEGER NOT NULL DEFAULT 0,
                    status TEXT NOT NULL DEFAULT 'running'   -- running, finished, interrupted
                );
                -- One row per instance and head for the current model (head 'none' = no head accepts it).
                CREATE TABLE results (
                    id INTEGER PRIMARY KEY,
                    instance_ref INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
                    head TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,            -- '' for not-applicable rows
                    run_ref INTEGER REFERENCES runs(id),
                    status TEXT NOT NULL CHECK (status IN ('scored', 'not-applicable', 'error')),
                    reason TEXT,
                    logits TEXT,                           -- JSON array
                    probability REAL,
                    calibrated_probability REAL,
                    decision TEXT,
                    threshold REAL,
                    heatmap_path TEXT,
                    seconds REAL,
                    scored_at TEXT NOT NULL,
                    UNIQUE (instance_ref, head, model_sha256)
                );
                CREATE INDEX results_head ON results(head, model_sha256);
                CREATE TABLE study_results (
                    id INTEGER PRIMARY KEY,
                    study_instance_uid TEXT NOT NULL,
                    head TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,
                    probability REAL,
                    calibrated_probability REAL,
                    decision TEXT,
                    rule TEXT NOT NULL,
                    instances INTEGER NOT NULL,
                    updated_at TEXT NOT NULL,
                    UNIQUE (study_instance_uid, head, model_sha256)
                );
                """)
        }
        m.registerMigration("v3-calibration") { db in
            try db.execute(sql: """
                CREATE TABLE calibrations (
                    id INTEGER PRIMARY KEY,
                    head TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,
                    method TEXT NOT NULL,
                    calibrator TEXT NOT NULL,          -- JSON of the fitted map
                    threshold REAL NOT NULL,           -- operating threshold on calibrated probabilities
                    threshold_rule TEXT NOT NULL,
                    n INTEGER NOT NULL,
                    labels_sha256 TEXT NOT NULL,
                    metrics TEXT NOT NULL,             -- JSON: ECE, Brier, log loss before and after
                    fitted_at TEXT NOT NULL,
                    active INTEGER NOT NULL DEFAULT 1
                );
                """)
        }
        m.registerMigration("v4-audits") { db in
            try db.execute(sql: """
                CREATE TABLE audits (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL,                -- 'subgroup'
                    head TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,
                    labels_sha256 TEXT NOT NULL,
                    parameters TEXT NOT NULL,          -- JSON
                    results TEXT NOT NULL,             -- JSON: every number
                    created_at TEXT NOT NULL
                );
                """)
        }
        m.registerMigration("v5-identity") { db in
            // Identity is checked, never assumed: every instance records whose it is (PatientID
            // qualified by its issuer), a study whose instances disagree is marked, and study
            // results are kept per (study, patient) so two patients are never merged.
            try db.execute(sql: """
                ALTER TABLE instances ADD COLUMN patient_key TEXT;
                UPDATE instances SET patient_key = coalesce(patient_id, '(no PatientID) study ' || coalesce(study_instance_uid, sop_instance_uid))
                    WHERE status = 'ok';
                CREATE INDEX instances_study ON instances(study_instance_uid);
                ALTER TABLE studies ADD COLUMN conflict TEXT;   -- the patient keys when more than one
                CREATE TABLE study_results_v5 (
                    id INTEGER PRIMARY KEY,
                    study_instance_uid TEXT NOT NULL,
                    patient_key TEXT NOT NULL,
                    head TEXT NOT NULL,
                    model_sha256 TEXT NOT NULL,
                    probability REAL,
                    calibrated_probability REAL,
                    decision TEXT,
                    rule TEXT NOT NULL,
                    instances INTEGER NOT NULL,
                    updated_at TEXT NOT NULL,
                    UNIQUE (study_instance_uid, patient_key, head, model_sha256)
                );
                DROP TABLE study_results;
                ALTER TABLE study_results_v5 RENAME TO study_results;
                ALTER TABLE runs ADD COLUMN pid INTEGER;
                """)
        }
        m.registerMigration("v6-positive-heatmaps") { db in
            // The positive class's map beside the decided class's (a missed finding's evidence).
            try db.execute(sql: "ALTER TABLE results ADD COLUMN positive_heatmap_path TEXT")
        }
        NetworkSchema.register(&m)
        m.registerMigration("v7-run-uid") { db in
            // A run's identity across indexes (merging shards): version, start time and pid can
            // coincide on a cluster (containers start dxkit with the same pid in the same second).
            try db.execute(sql: """
                ALTER TABLE runs ADD COLUMN uid TEXT;
                CREATE UNIQUE INDEX runs_uid ON runs(uid);
                """)
        }
        m.registerMigration("v8-findings") { db in
            // Multi-label heads report several findings per image: results and study results are
            // unique per finding too, calibrations and audits are per finding. Existing rows are
            // single-label heads' and get '' (the head's one finding).
            try db.execute(sql: """
                CREATE TABLE results_v8 (
                    id INTEGER PRIMARY KEY,
                    instance_ref INTEGER NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
                    head TEXT NOT NULL,
                    finding TEXT NOT NULL DEFAULT '',      -- '' for a single-label head; else the card's finding name
                    model_sha256 TEXT NOT NULL,
                    run_ref INTEGER REFERENCES runs(id),
                    status TEXT NOT NULL CHECK (status IN ('scored', 'not-applicable', 'error')),
                    reason TEXT,
                    logits TEXT,
                    probability REAL,
                    calibrated_probability REAL,
                    decision TEXT,
                    threshold REAL,
                    heatmap_path TEXT,
                    seconds REAL,
                    scored_at TEXT NOT NULL,
                    positive_heatmap_path TEXT,
                    UNIQUE (instance_ref, head, finding, model_sha256)
                );
                INSERT INTO results_v8 (id, instance_ref, head, finding, model_sha256, run_ref, status, reason, logits, probability,
                                        calibrated_probability, decision, threshold, heatmap_path, seconds, scored_at,
                                        positive_heatmap_path)
                    SELECT id, instance_ref, head, '', model_sha256, run_ref, status, reason, logits, probability,
                           calibrated_probability, decision, threshold, heatmap_path, seconds, scored_at, positive_heatmap_path
                    FROM results;
                DROP TABLE results;
                ALTER TABLE results_v8 RENAME TO results;
                CREATE INDEX results_head ON results(head, model_sha256);
                CREATE TABLE study_results_v8 (
                    id INTEGER PRIMARY KEY,
                    study_instance_uid TEXT NOT NULL,
                    patient_key TEXT NOT NULL,
                    head TEXT NOT NULL,
                    finding TEXT NOT NULL DEFAULT '',
                    model_sha256 TEXT NOT NULL,
                    probability REAL,
                    calibrated_probability REAL,
                    decision TEXT,
                    rule TEXT NOT NULL,
                    instances INTEGER NOT NULL,
                    updated_at TEXT NOT NULL,
                    UNIQUE (study_instance_uid, patient_key, head, finding, model_sha256)
                );
                INSERT INTO study_results_v8 (id, study_instance_uid, patient_key, head, finding, model_sha256, probability,
                                              calibrated_probability, decision, rule, instances, updated_at)
                    SELECT id, study_instance_uid, patient_key, head, '', model_sha256, probability, calibrated_probability,
                           decision, rule, instances, updated_at
                    FROM study_results;
                DROP TABLE study_results;
                ALTER TABLE study_results_v8 RENAME TO study_results;
                ALTER TABLE calibrations ADD COLUMN finding TEXT NOT NULL DEFAULT '';
                ALTER TABLE audits ADD COLUMN finding TEXT NOT NULL DEFAULT '';
                """)
        }
        return m
    }
}
