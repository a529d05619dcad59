import Foundation
import GRDB
import XCTest

/// `dxkit run --shard`, `merge` and `export` as a cluster uses them: two shards, one killed with
/// SIGKILL while scoring and run again, merge to exactly the unsharded results; merging again adds
/// nothing; a conflicting duplicate makes merge exit 1 naming it; exports carry every result.
final class ShardCLITests: XCTestCase {
    var dir: URL!
    var models: String { CLI.repo.appendingPathComponent("models").path }
    var input: String { dir.appendingPathComponent("in").path }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: CLI.repo.appendingPathComponent("models/xception-pneumonia/model.json").path) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no models")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-shard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("shards"), withIntermediateDirectories: true)
        let chest = CLI.repo.appendingPathComponent("studies/chest").path
        for name in try FileManager.default.contentsOfDirectory(atPath: chest).sorted() {
            try FileManager.default.copyItem(atPath: "\(chest)/\(name)", toPath: "\(input)/\(name)")
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func query(_ db: String, _ sql: String) throws -> [String] {
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: db, configuration: config).read { db in try Row.fetchAll(db, sql: sql).map { "\($0)" }.sorted() }
    }

    static let results = """
        SELECT i.path, i.sop_instance_uid, r.head, r.model_sha256, r.status, r.logits, r.probability, r.calibrated_probability, r.decision
        FROM results r JOIN instances i ON i.id = r.instance_ref
        """

    func testKilledShardRerunAndMergeEqualTheUnshardedRun() throws {
        let whole = try CLI.run(["run", input, "--out", dir.appendingPathComponent("whole").path, "--models-dir", models])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let wholeDB = dir.appendingPathComponent("whole/dxkit.sqlite").path
        XCTAssertEqual(try query(wholeDB, Self.results).count, 16)

        // Shard 1 of 2: ingested, then killed while scoring one image at a time.
        let shard1 = dir.appendingPathComponent("shards/shard-1.sqlite").path
        let ingest = try CLI.run(["ingest", input, "--db", shard1, "--shard", "1/2"])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        XCTAssertTrue(ingest.stdout.contains("belong to other shards"), ingest.stdout)
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["score", "--db", shard1, "--shard", "1/2", "--models-dir", models, "--batch", "1", "--jobs", "1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && p.isRunning && ((try? query(shard1, "SELECT id FROM results").count) ?? 0) < 2 { usleep(20_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "still scoring when killed")
        let partial = try query(shard1, "SELECT id FROM results").count
        // The task run again (as a resubmitted array task would) finishes the shard.
        for i in 0..<2 {
            let r = try CLI.run(["run", input, "--shard", "\(i)/2", "--db", dir.appendingPathComponent("shards/shard-\(i).sqlite").path,
                                 "--out", dir.appendingPathComponent("shards/shard-\(i)").path, "--models-dir", models])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let counts = try (0..<2).map { try query(dir.appendingPathComponent("shards/shard-\($0).sqlite").path, Self.results).count }
        XCTAssertEqual(counts.reduce(0, +), 16, "\(counts)")
        XCTAssertLessThan(partial, counts[1], "killed mid-shard")
        XCTAssertEqual(try query(shard1, "SELECT id FROM runs WHERE status = 'interrupted'").count, 1)

        let merged = dir.appendingPathComponent("merged/dxkit.sqlite").path
        let shards = (0..<2).map { dir.appendingPathComponent("shards/shard-\($0).sqlite").path }
        let merge = try CLI.run(["merge"] + shards + ["--db", merged])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertEqual(try query(merged, Self.results), try query(wholeDB, Self.results), "the merge holds exactly the unsharded results")
        XCTAssertEqual(try query(merged, "SELECT study_instance_uid, patient_key, probability, decision FROM study_results"),
                       try query(wholeDB, "SELECT study_instance_uid, patient_key, probability, decision FROM study_results"))
        let again = try CLI.run(["merge"] + shards + ["--db", merged])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout.components(separatedBy: "0 instances, 0 results, 0 study results, 0 runs, 0 models added").count - 1, 2,
                       again.stdout)
        // The merged index renders the whole cohort.
        let report = try CLI.run(["report", "--db", merged, "--out", dir.appendingPathComponent("merged/reports").path])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("16 studies (16 with scored findings)"), report.stdout)

        // Exports: one row per result, as CSV and JSON Lines.
        let csv = try CLI.run(["export", "--db", merged, "--format", "csv"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let lines = csv.stdout.split(separator: "\r\n")
        XCTAssertEqual(lines.count, 17)
        XCTAssertTrue(lines[0].hasPrefix("sop_instance_uid,study_instance_uid,series_instance_uid,patient_id,patient_key"), String(lines[0]))
        let jsonl = try CLI.run(["export", "--db", merged, "--format", "jsonl", "--out", dir.appendingPathComponent("results.jsonl").path])
        XCTAssertEqual(jsonl.status, 0, jsonl.stderr)
        let objects = try String(contentsOf: dir.appendingPathComponent("results.jsonl"), encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        XCTAssertEqual(objects.count, 16)
        let probabilities = try query(wholeDB, "SELECT r.probability FROM results r").map { $0 }
        XCTAssertEqual(objects.compactMap { $0["probability"] as? Double }.count, 16)
        XCTAssertEqual(probabilities.count, 16)
        for o in objects {
            XCTAssertEqual(o["head"] as? String, "pneumonia")
            XCTAssertEqual(o["dxkit_version"] as? String, "0.1.0")
            XCTAssertEqual((o["logits"] as? [Double])?.count, 2)
            XCTAssertTrue(FileManager.default.fileExists(atPath: o["heatmap_path"] as! String), "heatmap paths resolve after the merge")
        }

        // A conflicting duplicate: the same instance with another probability in a shard.
        try DatabaseQueue(path: shards[0]).write { db in
            try db.execute(sql: "UPDATE results SET probability = 0.123456 WHERE id = (SELECT min(id) FROM results WHERE status = 'scored')")
        }
        let conflict = try CLI.run(["merge", shards[0], "--db", merged])
        XCTAssertEqual(conflict.status, 1, conflict.stdout + conflict.stderr)
        XCTAssertTrue(conflict.stdout.contains("conflict: result ") && conflict.stdout.contains("p=0.123456"), conflict.stdout)
        XCTAssertEqual(try query(merged, Self.results), try query(wholeDB, Self.results), "nothing chosen silently")
    }
}
