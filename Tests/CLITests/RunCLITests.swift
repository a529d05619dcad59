import Foundation
import GRDB
import XCTest

/// `dxkit score` killed with SIGKILL mid-run, then re-run: exactly one result per instance and
/// head; and `dxkit run` end to end on a small folder.
final class RunCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: CLI.repo.appendingPathComponent("models/xception-pneumonia/model.json").path) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no models")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
        let chest = try FileManager.default.contentsOfDirectory(atPath: CLI.repo.appendingPathComponent("studies/chest").path).sorted()
        for name in chest.prefix(8) {
            try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/\(name)").path,
                                             toPath: dir.appendingPathComponent("in/\(name)").path)
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    var models: String { CLI.repo.appendingPathComponent("models").path }

    func count(_ db: String, _ sql: String) throws -> Int {
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: db, configuration: config).read { try Int.fetchOne($0, sql: sql) ?? 0 }
    }

    func testKilledScoringResumesWithExactlyOneResultPerInstance() throws {
        let db = dir.appendingPathComponent("x.sqlite").path
        XCTAssertEqual(try CLI.run(["ingest", dir.appendingPathComponent("in").path, "--db", db]).status, 0)
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["score", "--db", db, "--models-dir", models, "--batch", "1", "--jobs", "1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && p.isRunning {
            if (try? count(db, "SELECT count(*) FROM results")) ?? 0 >= 2 { break }
            usleep(20_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "still scoring when killed")
        let partial = try count(db, "SELECT count(*) FROM results")
        XCTAssertLessThan(partial, 8)
        let rerun = try CLI.run(["score", "--db", db, "--models-dir", models])
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM results WHERE head = 'pneumonia' AND status = 'scored'"), 8)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM (SELECT instance_ref, head FROM results GROUP BY 1, 2 HAVING count(*) > 1)"), 0)
        XCTAssertEqual(try count(db, "SELECT count(*) FROM runs WHERE status = 'interrupted'"), 1, "the killed run is marked")
        XCTAssertEqual(try count(db, "SELECT count(*) FROM runs WHERE status = 'finished'"), 1)
    }

    func testRunWritesReportsForEveryStudy() throws {
        let out = dir.appendingPathComponent("reports").path
        let r = try CLI.run(["run", dir.appendingPathComponent("in").path, "--out", out, "--models-dir", models])
        XCTAssertEqual(r.status, 0, r.stderr)
        let index = try String(contentsOfFile: "\(out)/index.html", encoding: .utf8)
        let folders = try FileManager.default.contentsOfDirectory(atPath: out).filter {
            FileManager.default.fileExists(atPath: "\(out)/\($0)/report.html")
        }
        XCTAssertEqual(folders.count, 8, "one folder per study")
        for folder in folders {
            XCTAssertTrue(index.contains("\(folder)/report.html"))
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/\(folder)/result.json"))) as! [String: Any]
            let results = json["results"] as! [[String: Any]]
            XCTAssertEqual(results.count, 1)
            XCTAssertEqual(results[0]["head"] as? String, "pneumonia")
            let images = try FileManager.default.contentsOfDirectory(atPath: "\(out)/\(folder)/images")
            XCTAssertEqual(images.count, 1, "heatmap copied next to the report")
        }
    }
}
