import Foundation
import GRDB
import XCTest

/// `dxkit ingest` end to end: exit codes, and a run killed with SIGKILL then finished by a re-run.
final class IngestCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        try CLI.requireData()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testExitStatusSaysWhetherFilesFailed() throws {
        let input = dir.appendingPathComponent("in").path
        try FileManager.default.copyItem(atPath: CLI.data("pydicom/pydicom/data/test_files/CT_small.dcm"),
                                         toPath: input + "/ct.dcm")
        let db = dir.appendingPathComponent("x.sqlite").path
        let ok = try CLI.run(["ingest", input, "--db", db])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("1 ingested"), ok.stdout)
        try FileManager.default.copyItem(atPath: CLI.data("pydicom/pydicom/data/test_files/MR_truncated.dcm"),
                                         toPath: input + "/bad.dcm")
        let bad = try CLI.run(["ingest", input, "--db", db])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("bad.dcm"), bad.stderr)
        XCTAssertTrue(bad.stdout.contains("1 unchanged"), bad.stdout)
        let missing = try CLI.run(["ingest", dir.appendingPathComponent("nope").path, "--db", db])
        XCTAssertEqual(missing.status, 2)
    }

    /// SIGKILL in the middle of a run leaves a consistent index; the re-run finishes with
    /// exactly one row per file.
    func testKilledIngestLeavesConsistentIndexAndRerunFinishes() throws {
        let source = CLI.data("pydicom/pydicom/data/test_files")
        let files = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.hasSuffix(".dcm") }.sorted()
        var count = 0
        for copy in 0..<12 {
            let folder = dir.appendingPathComponent("in/\(copy)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for f in files {
                try FileManager.default.linkItem(atPath: "\(source)/\(f)", toPath: folder.appendingPathComponent(f).path)
                count += 1
            }
        }
        let db = dir.appendingPathComponent("killed.sqlite").path
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = ["ingest", dir.appendingPathComponent("in").path, "--db", db, "--jobs", "2"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until some rows are committed, then kill without warning.
        let deadline = Date().addingTimeInterval(20)
        var stored = 0
        while Date() < deadline && p.isRunning {
            stored = (try? rowCount(db)) ?? 0
            if stored > 50 { break }
            usleep(20_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run should still have been going when killed")
        let afterKill = try rowCount(db)
        XCTAssertLessThan(afterKill, count, "killed before the end")
        try DatabaseQueue(path: db).read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA integrity_check"), "ok")
        }
        let rerun = try CLI.run(["ingest", dir.appendingPathComponent("in").path, "--db", db, "--jobs", "2"])
        XCTAssertNotEqual(rerun.status, 2, rerun.stderr)
        try DatabaseQueue(path: db).read { db in
            let rows = try Int.fetchOne(db, sql: "SELECT count(*) FROM instances")!
            let paths = try Int.fetchOne(db, sql: "SELECT count(DISTINCT path) FROM instances")!
            XCTAssertEqual(rows, paths)
            XCTAssertGreaterThan(rows, afterKill)
            // Every file the scanner takes has a row: DICOM files (ok or error); skipped files none.
            let expected = try Int.fetchOne(db, sql: "SELECT count(*) FROM instances WHERE path LIKE '%/0/%'")! * 12
            XCTAssertEqual(rows, expected)
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA integrity_check"), "ok")
        }
        let third = try CLI.run(["ingest", dir.appendingPathComponent("in").path, "--db", db])
        XCTAssertTrue(third.stdout.contains(" 0 ingested"), third.stdout)
    }

    func rowCount(_ path: String) throws -> Int {
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: path, configuration: config).read {
            try Int.fetchOne($0, sql: "SELECT count(*) FROM instances") ?? 0
        }
    }
}
