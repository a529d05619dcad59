import Foundation
import GRDB
import XCTest

/// Issue 12's hand-made hostile cases (`scripts/hostile_cases.py`) and file-system traps, each
/// through the real binary: every file becomes a row (or a counted skip) with a reason, nothing
/// crashes or hangs, and no result can land under the wrong patient.
final class HostileInputTests: XCTestCase {
    var dir: URL!
    var input: URL { dir.appendingPathComponent("in") }
    var models: String { CLI.repo.appendingPathComponent("models").path }

    override func setUpWithError() throws {
        try CLI.requireData()
        guard FileManager.default.fileExists(atPath: CLI.repo.appendingPathComponent("models/xception-pneumonia/model.json").path) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no models")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// Writes the hostile cases into `in/`.
    func makeCases() throws {
        let p = Process()
        p.executableURL = CLI.repo.appendingPathComponent(".venv/bin/python")
        p.arguments = [CLI.repo.appendingPathComponent("scripts/hostile_cases.py").path, input.path]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "hostile_cases.py failed")
    }

    func rows(_ db: String, _ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: db, configuration: config).read { try Row.fetchAll($0, sql: sql, arguments: arguments) }
    }

    func error(_ db: String, _ name: String) throws -> String? {
        try rows(db, "SELECT error FROM instances WHERE path LIKE ?", ["%/\(name)"]).first?["error"]
    }

    func testHostileFilesAreErrorRowsWithReasonsAndTheBatchGoesOn() throws {
        try makeCases()
        let db = dir.appendingPathComponent("x.sqlite").path
        let r = try CLI.run(["ingest", input.path, "--db", db, "--jobs", "2"])
        XCTAssertEqual(r.status, 1, "some files are errors: \(r.stdout)\(r.stderr)")
        let expected: [(String, String)] = [
            ("rows-ds-minus-1e400.dcm", "Rows (0028,0010) holds -inf"),
            ("frames-rows-columns-overflow.dcm", "above the decode limit"),
            ("monochrome-3-samples.dcm", "Samples per Pixel 3 with photometric interpretation MONOCHROME2"),
            ("rescale-slope-1e400.dcm", "not finite"),
            ("window-center-inf.dcm", "not finite"),
            ("jpeg-65535-square.dcm", "above the decode limit"),
            ("cut-before-pixel-data.dcm", "no Pixel Data"),
            ("nested-sequences-50000.dcm", "sequences nested more than 256 deep"),
        ]
        for (name, reason) in expected {
            let stored = try error(db, name)
            XCTAssertTrue(stored?.contains(reason) ?? false, "\(name): \(stored ?? "no error row")")
        }
        // The readable cases are indexed; every regular file has exactly one row.
        let ok = try rows(db, "SELECT path FROM instances WHERE status = 'ok'").map { $0["path"] as String }
        for name in ["patient-age-infy.dcm", "no-study-uid.dcm", "nested-sequences-20.dcm", "study-uid-index-html.dcm", "control-characters.dcm",
                     "shared-study-patient-a.dcm", "shared-study-patient-b.dcm"] {
            XCTAssertTrue(ok.contains { $0.hasSuffix("/\(name)") }, name)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: input.path).filter { $0.hasSuffix(".dcm") }
        XCTAssertEqual(try rows(db, "SELECT count(*) AS n FROM instances").first?["n"], files.count)
        // The DICOMDIR's escaping reference is refused, said, and /dev/zero never read.
        XCTAssertTrue(r.stderr.contains("DICOMDIR reference outside its folder refused"), r.stderr)
        XCTAssertEqual(try rows(db, "SELECT count(*) AS n FROM instances WHERE path LIKE '/dev/%'").first?["n"], 0)
        // The conflict is named.
        XCTAssertTrue(r.stderr.contains("study 2.25.1600 holds instances of more than one patient"), r.stderr)
        XCTAssertFalse(r.stdout.contains("\u{1B}") || r.stderr.contains("\u{1B}"), "no raw control characters reach the terminal")

        // inspect on every file: exit 0 or 1, always one JSON object, never a crash.
        for name in files.sorted() {
            let i = try CLI.run(["inspect", input.appendingPathComponent(name).path, "--json"])
            XCTAssertTrue(i.status == 0 || i.status == 1, "\(name): status \(i.status) \(i.stderr)")
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(i.stdout.utf8)), name)
        }
        let age = try CLI.run(["inspect", input.appendingPathComponent("patient-age-infy.dcm").path, "--json"])
        XCTAssertEqual(age.status, 0)
        XCTAssertTrue(age.stdout.contains("\"age_years\":null"), age.stdout)
        XCTAssertEqual(try CLI.run(["inspect", input.appendingPathComponent("cut-before-pixel-data.dcm").path]).status, 1)
    }

    func testRunFilesEachPatientApartAndReportsStayInTheirFolders() throws {
        try makeCases()
        let out = dir.appendingPathComponent("out").path
        let r = try CLI.run(["run", input.path, "--out", out, "--models-dir", models])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertFalse(r.stdout.contains("\u{1B}") || r.stderr.contains("\u{1B}"), "no raw control characters reach the terminal")
        let db = "\(out)/dxkit.sqlite"
        let names = try FileManager.default.contentsOfDirectory(atPath: out)
        // dxkit's own files are untouched by studies named after them.
        XCTAssertTrue(names.contains("index.html") && names.contains("dxkit.sqlite") && names.contains("heatmaps"))
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/index.html", isDirectory: &isDir) && !isDir.boolValue)
        for uid in ["index.html", "dxkit.sqlite", "heatmaps"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/study-\(uid)/report.html"), uid)
        }
        XCTAssertTrue(names.filter { !["index.html", "dxkit.sqlite", "dxkit.sqlite-wal", "dxkit.sqlite-shm", "dxkit.sqlite.lock", "heatmaps"].contains($0) }
            .allSatisfy { $0.hasPrefix("study-") }, "\(names)")

        // Two patients sharing a Study Instance UID: two reports, two study results, never merged.
        let shared = names.filter { $0.hasPrefix("study-2.25.1600-patient-") }.sorted()
        XCTAssertEqual(shared.count, 2, "\(names)")
        let studyRows = try rows(db, "SELECT patient_key, instances FROM study_results WHERE study_instance_uid = '2.25.1600' ORDER BY patient_key")
        XCTAssertEqual(studyRows.map { $0["patient_key"] as String }, ["PATIENT-A", "PATIENT-B"])
        XCTAssertEqual(studyRows.map { $0["instances"] as Int }, [1, 1])
        for (folder, (sop, patient)) in zip(shared, [("2.25.1601", "PATIENT-A"), ("2.25.1602", "PATIENT-B")]) {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/\(folder)/result.json"))) as! [String: Any]
            let results = json["results"] as! [[String: Any]]
            XCTAssertEqual(results.compactMap { $0["sop_instance_uid"] as? String }, [sop], folder)
            let html = try String(contentsOfFile: "\(out)/\(folder)/report.html", encoding: .utf8)
            XCTAssertTrue(html.contains("Identity conflict"), folder)
            XCTAssertTrue(html.contains(patient), folder)
            let sr = try CLI.run(["inspect", "\(out)/\(folder)/sr.dcm", "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(sr.stdout.utf8)) as! [String: Any]
            XCTAssertEqual(object["patient_id"] as? String, patient, "the SR names this report's patient")
        }
        XCTAssertTrue(r.stderr.contains("study 2.25.1600 holds more than one patient"), r.stderr)

        // The instance without a Study Instance UID is visible: an error row, a warning, the index page.
        let noStudy = try rows(db, "SELECT r.status, r.reason FROM results r JOIN instances i ON i.id = r.instance_ref WHERE i.path LIKE '%/no-study-uid.dcm'")
        XCTAssertEqual(noStudy.first?["status"], "error")
        XCTAssertTrue(r.stderr.contains("have no Study Instance UID"), r.stderr)
        let index = try String(contentsOfFile: "\(out)/index.html", encoding: .utf8)
        XCTAssertTrue(index.contains("no-study-uid.dcm") && index.contains("Instances in no report"))
        // Heatmaps are stored relative to the database; `report` from another folder still finds them.
        let stored = try rows(db, """
            SELECT heatmap_path AS p FROM results WHERE heatmap_path IS NOT NULL
            UNION ALL SELECT positive_heatmap_path FROM results WHERE positive_heatmap_path IS NOT NULL
            """).map { $0["p"] as String }
        XCTAssertFalse(stored.isEmpty)
        XCTAssertTrue(stored.allSatisfy { $0.hasPrefix("heatmaps/") }, "\(stored)")
        let elsewhere = dir.appendingPathComponent("elsewhere").path
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["report", "--db", db, "--out", "again"]
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        p.currentDirectoryURL = URL(fileURLWithPath: elsewhere)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let copied = FileManager.default.enumerator(atPath: "\(elsewhere)/again")!.allObjects.compactMap { $0 as? String }.filter { $0.hasSuffix(".png") }
        XCTAssertEqual(copied.count, stored.count, "every heatmap found from another folder")
    }

    /// A file replaced between ingest and score is re-ingested first: its result, report and SR
    /// all carry the new content's identity, never the old one's.
    func testReplacedFileIsScoredUnderItsNewIdentity() throws {
        let file = input.appendingPathComponent("image.dcm").path
        try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/NORMAL2-IM-1427-0001.dcm").path, toPath: file)
        let db = dir.appendingPathComponent("x.sqlite").path
        XCTAssertEqual(try CLI.run(["ingest", input.path, "--db", db]).status, 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/person1946_bacteria_4875.dcm").path, toPath: file)
        // Same size would not be possible, but the same time stamp is: the hash decides.
        try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: file)
        let score = try CLI.run(["score", "--db", db, "--models-dir", models, "--heatmaps", dir.appendingPathComponent("h").path])
        XCTAssertEqual(score.status, 0, score.stderr)
        XCTAssertTrue(score.stderr.contains("changed since they were indexed"), score.stderr)
        let row = try XCTUnwrap(rows(db, """
            SELECT i.patient_id, i.sop_instance_uid, i.study_instance_uid FROM results r JOIN instances i ON i.id = r.instance_ref
            WHERE r.head = 'pneumonia' AND r.status = 'scored'
            """).first)
        XCTAssertEqual(row["patient_id"], "person1946_bacteria_4875")
        let out = dir.appendingPathComponent("reports").path
        XCTAssertEqual(try CLI.run(["report", "--db", db, "--out", out]).status, 0)
        let folder = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: out).first { $0.hasPrefix("study-") })
        let sr = try JSONSerialization.jsonObject(with: Data(try CLI.run(["inspect", "\(out)/\(folder)/sr.dcm", "--json"]).stdout.utf8)) as! [String: Any]
        XCTAssertEqual(sr["patient_id"] as? String, "person1946_bacteria_4875")
        XCTAssertEqual(sr["study_instance_uid"] as? String, row["study_instance_uid"])
        let json = try String(contentsOfFile: "\(out)/\(folder)/result.json", encoding: .utf8)
        XCTAssertTrue(json.contains(row["sop_instance_uid"] as String))

        // Replaced again after scoring, before the report: the SR refuses to borrow the new file's patient.
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/NORMAL2-IM-1430-0001.dcm").path, toPath: file)
        let stale = try CLI.run(["report", "--db", db, "--out", dir.appendingPathComponent("r2").path])
        XCTAssertEqual(stale.status, 1)
        XCTAssertTrue(stale.stderr.contains("still holds the content that was scored"), stale.stderr)
    }

    func testFoldersWithLinksFifosAndLoopsFinishWithEverySkipCounted() throws {
        let fm = FileManager.default
        try fm.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/NORMAL2-IM-1427-0001.dcm").path,
                        toPath: input.appendingPathComponent("a.dcm").path)
        let outside = dir.appendingPathComponent("outside")
        try fm.createDirectory(at: outside, withIntermediateDirectories: true)
        try fm.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/NORMAL2-IM-1430-0001.dcm").path,
                        toPath: outside.appendingPathComponent("b.dcm").path)
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("link-to-b.dcm").path, withDestinationPath: outside.appendingPathComponent("b.dcm").path)
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("again-a.dcm").path, withDestinationPath: input.appendingPathComponent("a.dcm").path)
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("loop").path, withDestinationPath: input.path)
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("zero.dcm").path, withDestinationPath: "/dev/zero")
        try fm.createSymbolicLink(atPath: input.appendingPathComponent("dangling.dcm").path, withDestinationPath: "/nonexistent/x")
        XCTAssertEqual(mkfifo(input.appendingPathComponent("pipe.dcm").path, 0o644), 0)
        let db = dir.appendingPathComponent("x.sqlite").path
        let r = try CLI.run(["ingest", input.path, "--db", db, "--verbose"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("2 ingested"), r.stdout)
        XCTAssertTrue(r.stdout.contains("5 skipped"), r.stdout)  // again-a (same file), loop, /dev/zero, pipe, dangling
        XCTAssertTrue(r.stdout.contains("symbolic links followed"), r.stdout)
        for reason in ["character device", "FIFO", "symbolic link to nothing", "folder already walked"] {
            XCTAssertTrue(r.stderr.contains(reason), "\(reason): \(r.stderr)")
        }
        let paths = try rows(db, "SELECT path FROM instances").map { $0["path"] as String }.sorted()
        XCTAssertEqual(paths, [input.appendingPathComponent("a.dcm").path, input.appendingPathComponent("link-to-b.dcm").path])
        // A FIFO or device named directly is a skip too, not a hang.
        let direct = try CLI.run(["ingest", "/dev/zero", input.appendingPathComponent("pipe.dcm").path, "--db", db])
        XCTAssertEqual(direct.status, 0, direct.stderr)
        XCTAssertTrue(direct.stdout.contains("2 skipped"), direct.stdout)
    }

    /// A file that crashes dxkit is named on standard error and quarantined: the next run records
    /// it as an error without reading it and finishes the batch.
    func testAFileThatCrashesIsQuarantinedAndTheNextRunGoesOn() throws {
        let chest = try FileManager.default.contentsOfDirectory(atPath: CLI.repo.appendingPathComponent("studies/chest").path).sorted()
        for name in chest.prefix(6) {
            try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/\(name)").path,
                                             toPath: input.appendingPathComponent(name).path)
        }
        let victim = chest[3]
        let db = dir.appendingPathComponent("x.sqlite").path
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["ingest", input.path, "--db", db, "--jobs", "1"]
        p.environment = ProcessInfo.processInfo.environment.merging(["DXKIT_TEST_CRASH_ON": victim, "SWIFT_BACKTRACE": "enable=no"]) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertTrue(text.contains("while reading \(input.appendingPathComponent(victim).path)"), text)
        let again = try CLI.run(["ingest", input.path, "--db", db])
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertTrue(again.stderr.contains("crashed dxkit in an earlier run"), again.stderr)
        XCTAssertEqual(try rows(db, "SELECT count(*) AS n FROM instances").first?["n"], 6)
        XCTAssertTrue(try error(db, victim)?.contains("quarantined") ?? false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: db + ".quarantine"), "the log is emptied once recorded")
    }

    /// One writer per database: a second score is refused while the first runs, and the first is
    /// not marked interrupted.
    func testASecondWriterIsRefusedWithTheHoldersPid() throws {
        let chest = try FileManager.default.contentsOfDirectory(atPath: CLI.repo.appendingPathComponent("studies/chest").path).sorted()
        for name in chest.prefix(8) {
            try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/\(name)").path,
                                             toPath: input.appendingPathComponent(name).path)
        }
        let db = dir.appendingPathComponent("x.sqlite").path
        XCTAssertEqual(try CLI.run(["ingest", input.path, "--db", db]).status, 0)
        let first = Process()
        first.executableURL = CLI.binary
        first.arguments = ["score", "--db", db, "--models-dir", models, "--batch", "1", "--jobs", "1"]
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && first.isRunning && ((try? rows(db, "SELECT count(*) AS n FROM runs WHERE status = 'running'").first?["n"] as Int?) ?? 0) == 0 {
            usleep(20_000)
        }
        let second = try CLI.run(["score", "--db", db, "--models-dir", models])
        let alsoRun = try CLI.run(["run", input.path, "--db", db, "--out", dir.appendingPathComponent("o").path, "--models-dir", models])
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertEqual(second.status, 2)
        XCTAssertTrue(second.stderr.contains("pid \(first.processIdentifier)"), second.stderr)
        XCTAssertEqual(alsoRun.status, 2, alsoRun.stderr)
        XCTAssertEqual(try rows(db, "SELECT status FROM runs").map { $0["status"] as String }, ["finished"])
        XCTAssertEqual(try rows(db, "SELECT count(*) AS n FROM results WHERE status = 'scored'").first?["n"], 8)
    }

    /// Same inputs, batch and threads: the same bits, whichever worker finishes first.
    func testScoringIsBitForBitReproducible() throws {
        let chest = try FileManager.default.contentsOfDirectory(atPath: CLI.repo.appendingPathComponent("studies/chest").path).sorted()
        for name in chest.prefix(7) {
            try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/\(name)").path,
                                             toPath: input.appendingPathComponent(name).path)
        }
        var outputs: [[String]] = []
        for attempt in 0..<2 {
            let db = dir.appendingPathComponent("r\(attempt).sqlite").path
            XCTAssertEqual(try CLI.run(["ingest", input.path, "--db", db]).status, 0)
            XCTAssertEqual(try CLI.run(["score", "--db", db, "--models-dir", models, "--batch", "3", "--jobs", "2"]).status, 0)
            outputs.append(try rows(db, """
                SELECT i.path, r.logits, r.probability FROM results r JOIN instances i ON i.id = r.instance_ref ORDER BY i.path
                """).map { "\($0["path"] as String) \($0["logits"] as String) \(($0["probability"] as Double).bitPattern)" })
        }
        XCTAssertEqual(outputs[0].count, 7)
        XCTAssertEqual(outputs[0], outputs[1])
    }

    func testFatalErrorsExitTwoAndMissingDatabasesAreNotCreated() throws {
        let missing = dir.appendingPathComponent("typo.sqlite").path
        let score = try CLI.run(["score", "--db", missing, "--models-dir", models])
        XCTAssertEqual(score.status, 2)
        XCTAssertTrue(score.stderr.contains("no such database"), score.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
        XCTAssertEqual(try CLI.run(["report", "--db", missing, "--out", dir.appendingPathComponent("r").path]).status, 2)
        let garbage = dir.appendingPathComponent("garbage.sqlite").path
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: garbage))
        XCTAssertEqual(try CLI.run(["score", "--db", garbage, "--models-dir", models]).status, 2)
        let noHeads = try CLI.run(["score", "--db", garbage, "--models-dir", dir.path])
        XCTAssertEqual(noHeads.status, 2)
    }
}
