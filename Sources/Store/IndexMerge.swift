import Foundation
import GRDB

/// One row that a shard and the merged index hold differently: kept as the merged index has it,
/// and reported (a merge never chooses silently).
public struct MergeConflict: Sendable, CustomStringConvertible {
    /// "instance", "result", "study result", "model" or "study split".
    public var kind: String
    /// What identifies the row (a path, a SOP Instance UID with head and model, a study).
    public var key: String
    public var merged: String
    public var shard: String
    public var description: String { "\(kind) \(key): the merged index has \(merged), the shard \(shard)" }
}

/// What merging one shard's index did: rows added, rows already there (equal), conflicts, and
/// what was not merged.
public struct MergeSummary: Sendable {
    public var shard: String
    public var instancesAdded = 0, instancesPresent = 0
    public var resultsAdded = 0, resultsPresent = 0
    public var studyResultsAdded = 0, studyResultsPresent = 0
    public var runsAdded = 0, modelsAdded = 0
    public var conflicts: [MergeConflict] = []
    /// Notes: runs still marked running, calibrations and audits not merged.
    public var notes: [String] = []
    public var added: Int { instancesAdded + resultsAdded + studyResultsAdded + runsAdded + modelsAdded }
    public init(shard: String) { self.shard = shard }
}

extension IndexDatabase {
    /// Probabilities closer than this are the same result (the engine gives the same bits on
    /// AVX2 and AVX-512; its portable path agrees to rounding).
    public static let mergeTolerance = 1e-6

    /// Merges the index at `shard` (a `--shard` run's, or any other dxkit index of the same
    /// schema) into this one, in one transaction: instances keyed by path (or, moved, by SOP
    /// Instance UID and content), runs by their uid, results by SOP Instance UID, head, finding and model weights, study
    /// results by study, patient, head, finding and model. Rows already here with the same values are left
    /// as they are, so merging twice, or merging a shard that was re-run, adds nothing; rows that
    /// differ are conflicts: kept as they are here and reported. Heatmap paths are re-rooted to this
    /// index's folder. The shard is only read.
    public func merge(shard path: String) throws -> MergeSummary {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError(file: path, reason: "no such index") }
        let shardPath = URL(fileURLWithPath: path).standardizedFileURL.path
        guard shardPath != URL(fileURLWithPath: self.path).standardizedFileURL.path else {
            throw StoreError(file: path, reason: "is the merged index itself")
        }
        var summary = MergeSummary(shard: path)
        try queue.writeWithoutTransaction { db in
            do {
                try db.execute(sql: "ATTACH DATABASE ? AS shard", arguments: [shardPath])
            } catch {
                throw StoreError(file: path, reason: "cannot open it: \(error)")
            }
            defer { try? db.execute(sql: "DETACH DATABASE shard") }
            let theirs: Set<String>
            do {
                theirs = Set(try String.fetchAll(db, sql: "SELECT identifier FROM shard.grdb_migrations"))
            } catch {
                throw StoreError(file: path, reason: "not a dxkit index (\(error))")
            }
            let ours = Set(try String.fetchAll(db, sql: "SELECT identifier FROM main.grdb_migrations"))
            guard theirs == ours else {
                throw StoreError(file: path, reason: "written by another dxkit version (schema \(theirs.sorted().last ?? "none"), this one \(ours.sorted().last ?? "none")): open it with this dxkit first (dxkit score --db \(path))")
            }
            try db.inTransaction(.immediate) {
                var merge = IndexMerge(db: db, shardPath: shardPath, mergedFolder: URL(fileURLWithPath: self.path).standardizedFileURL
                    .deletingLastPathComponent().path, summary: summary)
                try merge.run()
                summary = merge.summary
                return .commit
            }
        }
        return summary
    }
}

/// The steps of one merge inside its transaction, with the shard's row ids mapped to this index's.
struct IndexMerge {
    let db: Database
    let shardPath: String
    let mergedFolder: String
    var summary: MergeSummary
    var runs: [Int64: Int64] = [:]
    var patients: [Int64: Int64] = [:]
    var studies: [Int64: Int64] = [:]
    var series: [Int64: Int64] = [:]
    var instances: [Int64: Int64] = [:]
    var touchedStudies = Set<String>()

    init(db: Database, shardPath: String, mergedFolder: String, summary: MergeSummary) {
        self.db = db
        self.shardPath = shardPath
        self.mergedFolder = mergedFolder
        self.summary = summary
    }

    mutating func run() throws {
        try models()
        try mergeRuns()
        try hierarchy()
        try mergeInstances()
        try results()
        try studyResults()
        try IndexWriter.updateConflicts(touchedStudies, db)
        try splitStudies()
        let calibrations = try Int.fetchOne(db, sql: "SELECT count(*) FROM shard.calibrations") ?? 0
        let audits = try Int.fetchOne(db, sql: "SELECT count(*) FROM shard.audits") ?? 0
        if calibrations + audits > 0 {
            summary.notes.append("\(calibrations) calibration(s) and \(audits) audit(s) of the shard are not merged: fit and run them on the merged index")
        }
    }

    /// The columns of a table (as this index has them), less `except`.
    func columns(_ table: String, except: Set<String>) throws -> [String] {
        try Row.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?)", arguments: [table]).map { $0["name"] as String }
            .filter { !except.contains($0) }
    }

    static func quoted(_ names: [String]) -> String { names.map { "\"\($0)\"" }.joined(separator: ", ") }

    mutating func models() throws {
        for row in try Row.fetchAll(db, sql: "SELECT head, name, weights_sha256, card_json, registered_at FROM shard.models") {
            let head: String = row["head"], sha: String = row["weights_sha256"], card: String = row["card_json"]
            if let existing = try String.fetchOne(db, sql: "SELECT card_json FROM main.models WHERE head = ? AND weights_sha256 = ?",
                                                  arguments: [head, sha]) {
                if !Self.sameJSON(existing, card) {
                    summary.conflicts.append(MergeConflict(kind: "model", key: "\(head) \(sha.prefix(12))", merged: "one model card",
                                                           shard: "another card for the same weights"))
                }
                continue
            }
            try db.execute(sql: "INSERT INTO main.models (head, name, weights_sha256, card_json, registered_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [head, row["name"], sha, card, row["registered_at"]])
            summary.modelsAdded += 1
        }
    }

    static func sameJSON(_ a: String, _ b: String) -> Bool {
        guard a != b else { return true }
        // Key order and spacing aside: both re-serialised with sorted keys.
        func canonical(_ s: String) -> Data? {
            (try? JSONSerialization.jsonObject(with: Data(s.utf8))).flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        }
        guard let x = canonical(a), let y = canonical(b) else { return false }
        return x == y
    }

    /// Runs are the same run when their uids agree; a run merged while it was still going gets its
    /// end and counts when merged again.
    mutating func mergeRuns() throws {
        for row in try Row.fetchAll(db, sql: "SELECT * FROM shard.runs ORDER BY id") {
            let id: Int64 = row["id"], status: String = row["status"]
            if status == "running" {
                summary.notes.append("run \(id) of the shard (started \(row["started_at"] as String)) is still marked running: the shard is running or was killed; merge again once it has finished")
            }
            // The same run: its uid (runs recorded before uids: version, start, heads and pid).
            let uid: String? = row["uid"]
            let match = uid != nil
                ? try Row.fetchOne(db, sql: "SELECT id, status FROM main.runs WHERE uid = ?", arguments: [uid])
                : try Row.fetchOne(db, sql: """
                    SELECT id, status FROM main.runs WHERE uid IS NULL AND dxkit_version = ? AND started_at = ? AND heads = ? AND pid IS ?
                    """, arguments: [row["dxkit_version"], row["started_at"], row["heads"], row["pid"]])
            if let existing = match {
                runs[id] = existing["id"]
                if (existing["status"] as String) == "running" && status != "running" {
                    try db.execute(sql: """
                        UPDATE main.runs SET finished_at = ?, scored = ?, not_applicable = ?, errors = ?, status = ? WHERE id = ?
                        """, arguments: [row["finished_at"], row["scored"], row["not_applicable"], row["errors"], status, existing["id"] as Int64])
                }
                continue
            }
            let cols = try columns("runs", except: ["id"])
            try db.execute(sql: "INSERT INTO main.runs (\(Self.quoted(cols))) SELECT \(Self.quoted(cols)) FROM shard.runs WHERE id = ?",
                           arguments: [id])
            runs[id] = db.lastInsertedRowID
            summary.runsAdded += 1
        }
    }

    /// Patients by key, studies and series by UID (values already here win; missing ones are filled).
    mutating func hierarchy() throws {
        for row in try Row.fetchAll(db, sql: "SELECT * FROM shard.patients") {
            patients[row["id"]] = try Int64.fetchOne(db, sql: """
                INSERT INTO main.patients (patient_key, patient_id, patient_name, sex, birth_date) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(patient_key) DO UPDATE SET patient_id = coalesce(patient_id, excluded.patient_id),
                    patient_name = coalesce(patient_name, excluded.patient_name), sex = coalesce(sex, excluded.sex),
                    birth_date = coalesce(birth_date, excluded.birth_date)
                RETURNING id
                """, arguments: [row["patient_key"], row["patient_id"], row["patient_name"], row["sex"], row["birth_date"]])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM shard.studies") {
            guard let patient = patients[row["patient_ref"]] else { continue }
            studies[row["id"]] = try Int64.fetchOne(db, sql: """
                INSERT INTO main.studies (study_instance_uid, patient_ref, study_date, description, accession_number) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(study_instance_uid) DO UPDATE SET study_date = coalesce(study_date, excluded.study_date),
                    description = coalesce(description, excluded.description),
                    accession_number = coalesce(accession_number, excluded.accession_number)
                RETURNING id
                """, arguments: [row["study_instance_uid"], patient, row["study_date"], row["description"], row["accession_number"]])
            touchedStudies.insert(row["study_instance_uid"])
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM shard.series") {
            guard let study = studies[row["study_ref"]] else { continue }
            series[row["id"]] = try Int64.fetchOne(db, sql: """
                INSERT INTO main.series (series_instance_uid, study_ref, modality, body_part, series_number, description, manufacturer,
                                         model, institution, station)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(series_instance_uid) DO UPDATE SET modality = coalesce(modality, excluded.modality),
                    body_part = coalesce(body_part, excluded.body_part), series_number = coalesce(series_number, excluded.series_number),
                    description = coalesce(description, excluded.description), manufacturer = coalesce(manufacturer, excluded.manufacturer),
                    model = coalesce(model, excluded.model), institution = coalesce(institution, excluded.institution),
                    station = coalesce(station, excluded.station)
                RETURNING id
                """, arguments: [row["series_instance_uid"], study, row["modality"], row["body_part"], row["series_number"],
                                 row["description"], row["manufacturer"], row["model"], row["institution"], row["station"]])
        }
    }

    /// Instances by path; an instance stored here under another path with the same SOP Instance UID
    /// and content is the same file (a shard that saw the data under another mount point). The
    /// first stored file with a SOP Instance UID stays the original, as ingest keeps it.
    mutating func mergeInstances() throws {
        let cols = try columns("instances", except: ["id", "series_ref", "duplicate_of"])
        let insert = try db.cachedStatement(sql: """
            INSERT INTO main.instances (\(Self.quoted(cols)), series_ref, duplicate_of)
            SELECT \(Self.quoted(cols)), ?, ? FROM shard.instances WHERE id = ?
            """)
        let byPath = try db.cachedStatement(sql: "SELECT id, content_sha256, status FROM main.instances WHERE path = ?")
        let moved = try db.cachedStatement(sql: """
            SELECT id FROM main.instances WHERE sop_instance_uid = ? AND content_sha256 = ? AND status = 'ok' ORDER BY id LIMIT 1
            """)
        let original = try db.cachedStatement(sql: """
            SELECT min(id) FROM main.instances WHERE sop_instance_uid = ? AND path <> ? AND status = 'ok'
            """)
        let rows = try Row.fetchCursor(db, sql: """
            SELECT id, path, content_sha256, status, sop_instance_uid, study_instance_uid, series_ref, duplicate_of FROM shard.instances ORDER BY id
            """)
        while let row = try rows.next() {
            let id: Int64 = row["id"], path: String = row["path"], sha: String = row["content_sha256"], status: String = row["status"]
            let sop: String? = row["sop_instance_uid"]
            if let study: String = row["study_instance_uid"] { touchedStudies.insert(study) }
            if let here = try Row.fetchOne(byPath, arguments: [path]) {
                if (here["content_sha256"] as String) == sha && (here["status"] as String) == status {
                    instances[id] = here["id"]
                    summary.instancesPresent += 1
                } else {
                    summary.conflicts.append(MergeConflict(kind: "instance", key: path,
                                                           merged: "\(here["status"] as String) with content \((here["content_sha256"] as String).prefix(12))",
                                                           shard: "\(status) with content \(sha.prefix(12))"))
                }
                continue
            }
            // Moved: the shard's original (not a duplicate there) is here under another path.
            if status == "ok", (row["duplicate_of"] as Int64?) == nil, let sop, let same = try Int64.fetchOne(moved, arguments: [sop, sha]) {
                instances[id] = same
                summary.instancesPresent += 1
                continue
            }
            let seriesRef = (row["series_ref"] as Int64?).flatMap { series[$0] }
            let originalID = status == "ok" ? try sop.flatMap { try Int64.fetchOne(original, arguments: [$0, path]) } : nil
            if originalID != nil && (row["duplicate_of"] as Int64?) == nil {
                summary.conflicts.append(MergeConflict(kind: "instance", key: "SOP Instance UID \(sop ?? "")",
                                                       merged: "it in another file", shard: "it in \(path) (added as a duplicate; its results not merged)"))
            }
            try insert.execute(arguments: [seriesRef, originalID, id])
            let newID = db.lastInsertedRowID
            if originalID == nil || (row["duplicate_of"] as Int64?) != nil { instances[id] = newID }
            summary.instancesAdded += 1
        }
    }

    /// A stored heatmap path of the shard as this index stores it (relative to its folder when inside).
    func rebased(_ stored: String?) -> String? {
        stored.map { StoredPath.relative(StoredPath.resolve($0, database: shardPath), to: mergedFolder) }
    }

    static func same(_ a: Double?, _ b: Double?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (x?, y?): return abs(x - y) <= IndexDatabase.mergeTolerance
        default: return false
        }
    }

    static func describe(_ status: String, _ p: Double?, _ decision: String?) -> String {
        status + (p.map { String(format: " p=%.6f", $0) } ?? "") + (decision.map { " \($0)" } ?? "")
    }

    mutating func results() throws {
        let cols = try columns("results", except: ["id", "instance_ref", "run_ref", "heatmap_path", "positive_heatmap_path"])
        let insert = try db.cachedStatement(sql: """
            INSERT INTO main.results (\(Self.quoted(cols)), instance_ref, run_ref, heatmap_path, positive_heatmap_path)
            SELECT \(Self.quoted(cols)), ?, ?, ?, ? FROM shard.results WHERE id = ?
            """)
        let existing = try db.cachedStatement(sql: """
            SELECT status, probability, calibrated_probability, decision, threshold FROM main.results
            WHERE instance_ref = ? AND head = ? AND finding = ? AND model_sha256 = ?
            """)
        let rows = try Row.fetchCursor(db, sql: """
            SELECT r.id, r.instance_ref, r.run_ref, r.head, r.finding, r.model_sha256, r.status, r.probability, r.calibrated_probability,
                   r.decision, r.threshold, r.heatmap_path, r.positive_heatmap_path, i.sop_instance_uid, i.path
            FROM shard.results r JOIN shard.instances i ON i.id = r.instance_ref ORDER BY r.id
            """)
        while let row = try rows.next() {
            guard let instance = instances[row["instance_ref"]] else { continue }
            let head: String = row["head"], sha: String = row["model_sha256"], status: String = row["status"]
            let finding: String = row["finding"], named = finding.isEmpty ? head : "\(head) \(finding)"
            let p: Double? = row["probability"], cp: Double? = row["calibrated_probability"], decision: String? = row["decision"]
            if let here = try Row.fetchOne(existing, arguments: [instance, head, finding, sha]) {
                let hp: Double? = here["probability"], hcp: Double? = here["calibrated_probability"], hd: String? = here["decision"]
                if (here["status"] as String) == status && hd == decision && Self.same(hp, p) && Self.same(hcp, cp)
                    && Self.same(here["threshold"], row["threshold"]) {
                    summary.resultsPresent += 1
                } else {
                    let who: String = (row["sop_instance_uid"] as String?) ?? (row["path"] as String)
                    summary.conflicts.append(MergeConflict(kind: "result", key: "\(who) \(named) \(sha.prefix(12))",
                                                           merged: Self.describe(here["status"], hp, hd), shard: Self.describe(status, p, decision)))
                }
                continue
            }
            let runRef = (row["run_ref"] as Int64?).flatMap { runs[$0] }
            try insert.execute(arguments: [instance, runRef, rebased(row["heatmap_path"]), rebased(row["positive_heatmap_path"]),
                                           row["id"] as Int64])
            summary.resultsAdded += 1
        }
    }

    mutating func studyResults() throws {
        let cols = try columns("study_results", except: ["id"])
        for row in try Row.fetchAll(db, sql: "SELECT * FROM shard.study_results ORDER BY id") {
            let study: String = row["study_instance_uid"], patient: String = row["patient_key"]
            let head: String = row["head"], sha: String = row["model_sha256"], finding: String = row["finding"]
            if let here = try Row.fetchOne(db, sql: """
                SELECT probability, calibrated_probability, decision, rule, instances FROM main.study_results
                WHERE study_instance_uid = ? AND patient_key = ? AND head = ? AND finding = ? AND model_sha256 = ?
                """, arguments: [study, patient, head, finding, sha]) {
                if Self.same(here["probability"], row["probability"]) && Self.same(here["calibrated_probability"], row["calibrated_probability"])
                    && (here["decision"] as String?) == (row["decision"] as String?) && (here["rule"] as String) == (row["rule"] as String)
                    && (here["instances"] as Int) == (row["instances"] as Int) {
                    summary.studyResultsPresent += 1
                } else {
                    summary.conflicts.append(MergeConflict(
                        kind: "study result", key: "\(study) (patient \(patient)) \(finding.isEmpty ? head : "\(head) \(finding)") \(sha.prefix(12))",
                        merged: Self.describe("\(here["instances"] as Int) image(s)", here["probability"], here["decision"]),
                        shard: Self.describe("\(row["instances"] as Int) image(s)", row["probability"], row["decision"])))
                }
                continue
            }
            try db.execute(sql: "INSERT INTO main.study_results (\(Self.quoted(cols))) SELECT \(Self.quoted(cols)) FROM shard.study_results WHERE id = ?",
                           arguments: [row["id"] as Int64])
            summary.studyResultsAdded += 1
        }
    }

    /// Study results that no longer count every scored image of their study: the study's images
    /// are in more than one index (not split by `--shard`); `dxkit score` on the merged index
    /// recomputes them.
    mutating func splitStudies() throws {
        guard !touchedStudies.isEmpty else { return }
        for row in try Row.fetchAll(db, sql: """
            SELECT sr.study_instance_uid AS study, sr.patient_key AS patient, sr.head, sr.instances, count(r.id) AS scored
            FROM main.study_results sr
            JOIN main.instances i ON i.study_instance_uid = sr.study_instance_uid AND coalesce(i.patient_key, '') = sr.patient_key
                AND i.status = 'ok'
            JOIN main.results r ON r.instance_ref = i.id AND r.head = sr.head AND r.finding = sr.finding AND r.model_sha256 = sr.model_sha256
                AND r.status = 'scored'
            GROUP BY sr.id HAVING count(r.id) <> sr.instances
            """) where touchedStudies.contains(row["study"]) {
            summary.conflicts.append(MergeConflict(
                kind: "study split", key: "\(row["study"] as String) (patient \(row["patient"] as String)) \(row["head"] as String)",
                merged: "a study result over \(row["instances"] as Int) image(s)",
                shard: "images that make \(row["scored"] as Int) scored in all (run dxkit score on the merged index to recompute it)"))
        }
    }
}
