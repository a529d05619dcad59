import Foundation
import GRDB
@testable import Store
import XCTest

/// `dxkit calibrate`, `audit` and `export` on a multi-label head through the built binary:
/// `--finding F` or every labelled finding, errors that name the file and the finding.
final class MultiLabelCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try MultiLabelFixture.temporaryFolder("dxkit-multilabel-cli") }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    static var binary: String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [besideTests, besideTests.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("dxkit")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url.path }
        }
        return MultiLabelFixture.repo.appendingPathComponent(".build/debug/dxkit").path
    }

    /// Runs dxkit with the repository's models as DXKIT_MODELS (where the head's backbone is).
    func dxkit(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(
            ["DXKIT_MODELS": MultiLabelFixture.repo.appendingPathComponent("models").path]) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testCalibrateAuditAndExportByFinding() throws {
        let (db, _, _) = try MultiLabelTests.scoredIndex(in: dir, heatmaps: false)
        let heads = dir.appendingPathComponent("heads").path, index = db.path
        let sops = try db.queue.read { try String.fetchAll($0, sql: "SELECT sop_instance_uid FROM instances ORDER BY id") }
        var csv = "sop_instance_uid,finding,label,sex\n"
        for (i, sop) in sops.enumerated() {
            csv += "\(sop),Pneumonia,\(i == 0 ? 1 : 0),\(i % 2 == 0 ? "F" : "M")\n\(sop),Effusion,\(i == 1 ? 1 : 0),\(i % 2 == 0 ? "F" : "M")\n"
        }
        let labels = dir.appendingPathComponent("labels.csv").path
        try csv.write(toFile: labels, atomically: true, encoding: .utf8)
        let head = MultiLabelFixture.head

        let all = try dxkit(["calibrate", "--db", index, "--labels", labels, "--head", head, "--models-dir", heads,
                             "--out", dir.appendingPathComponent("cal").path])
        XCTAssertEqual(all.status, 0, all.stderr)
        XCTAssertTrue(all.stdout.contains("calibrated \(head) · Pneumonia") && all.stdout.contains("calibrated \(head) · Effusion"), all.stdout)
        let one = try dxkit(["calibrate", "--db", index, "--labels", labels, "--head", head, "--finding", "Effusion", "--youden",
                             "--models-dir", heads])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertFalse(one.stdout.contains("Pneumonia"), one.stdout)
        let active = try db.queue.read {
            try String.fetchAll($0, sql: "SELECT finding FROM calibrations WHERE active = 1 ORDER BY finding")
        }
        XCTAssertEqual(active, ["Effusion", "Pneumonia"])
        XCTAssertEqual(try db.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM calibrations")! }, 3)

        let redo = try dxkit(["recalibrate-results", "--db", index, "--head", head, "--models-dir", heads])
        XCTAssertEqual(redo.status, 0, redo.stderr)
        XCTAssertTrue(redo.stdout.contains("recalibrated 6 \(head) results (Pneumonia: ") && redo.stdout.contains("; Effusion: "), redo.stdout)

        let bogus = try dxkit(["calibrate", "--db", index, "--labels", labels, "--head", head, "--finding", "Cardiomegaly",
                               "--models-dir", heads])
        XCTAssertEqual(bogus.status, 2)
        XCTAssertTrue(bogus.stderr.contains("Cardiomegaly") && bogus.stderr.contains("Pneumonia, Effusion"), bogus.stderr)
        let plain = dir.appendingPathComponent("plain.csv").path
        try "sop_instance_uid,label\n\(sops[0]),1\n".write(toFile: plain, atomically: true, encoding: .utf8)
        let noColumn = try dxkit(["calibrate", "--db", index, "--labels", plain, "--head", head, "--models-dir", heads])
        XCTAssertEqual(noColumn.status, 2)
        XCTAssertTrue(noColumn.stderr.contains(plain) && noColumn.stderr.contains("no finding column"), noColumn.stderr)

        let audit = try dxkit(["audit", "--db", index, "--labels", labels, "--head", head, "--by", "sex", "--min-size", "1",
                               "--bootstrap", "20", "--json", "--models-dir", heads])
        XCTAssertEqual(audit.status, 0, audit.stderr)
        let audits = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(audits.compactMap { $0["finding"] as? String }, ["Pneumonia", "Effusion"])
        let stored = try db.queue.read { try String.fetchAll($0, sql: "SELECT finding FROM audits ORDER BY id") }
        XCTAssertEqual(stored, ["Pneumonia", "Effusion"])
        let id = try XCTUnwrap(audits[1]["audit_id"] as? Int)
        let out = dir.appendingPathComponent("audit").path
        XCTAssertEqual(try dxkit(["report", "--db", index, "--audit", "\(id)", "--out", out]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: "\(out)/audit-\(id).html", encoding: .utf8).contains("\(head) · Effusion"))

        let export = try dxkit(["export", "--db", index, "--what", "calibrations", "--format", "jsonl"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let findings = export.stdout.split(whereSeparator: \.isNewline).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["finding"] as? String
        }
        XCTAssertEqual(findings, ["Pneumonia", "Effusion", "Effusion"])
    }
}
