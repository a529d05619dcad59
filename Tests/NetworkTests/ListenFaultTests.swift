import Foundation
import GRDB
import XCTest

/// The SCP under load and faults: nothing lost over concurrent associations, a SIGKILL mid-study
/// finished on restart with one result per instance, and each fault (abort, non-DICOM dataset,
/// unknown SOP class, rejected AE) answered with a status or an abort and a log line naming the peer,
/// while the SCP keeps serving.
final class ListenFaultTests: XCTestCase {
    static let name = "Secret^Patientname"

    func testTwoHundredInstancesOverFourAssociationsNothingLost() throws {
        let dir = try Tools.temporaryFolder("load")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try Tools.python([Tools.path("scripts/network_cases.py"), "tiny", "--out", "\(dir)/in", "--studies", "8",
                                     "--per-study", "25", "--name", Self.name])
        XCTAssertEqual(made.status, 0, made.stderr)
        let inputs = Tools.dicomFiles(in: "\(dir)/in")
        XCTAssertEqual(inputs.count, 200)
        let port = Tools.freePort()
        let listener = try Listener(port: port, arguments: ["--db", "\(dir)/db.sqlite", "--out", "\(dir)/out", "--study-idle", "1s"],
                                    log: "\(dir)/listen.log")
        // Four storescu processes at once, 50 files each, one association each.
        let senders: [Process] = try (0..<4).map { k in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/storescu")
            p.arguments = ["-aec", "DXKIT", "127.0.0.1", String(port)] + Array(inputs[(k * 50)..<((k + 1) * 50)])
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            return p
        }
        for p in senders {
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
        }
        let db = try DatabaseQueue(path: "\(dir)/db.sqlite")
        Tools.waitUntil("all 8 studies reported") {
            (try? db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM received_studies WHERE reported_at >= last_received_at") }) == 8
        }
        XCTAssertEqual(listener.stop(), 0)
        let received = try db.read { try String.fetchAll($0, sql: "SELECT DISTINCT sop_instance_uid FROM received") }
        let indexed = try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM instances WHERE status = 'ok'") }
        XCTAssertEqual(received.count, 200)
        XCTAssertEqual(indexed, 200)
        // Every received file holds exactly the dataset that was sent (pydicom compares them).
        let compare = try Tools.python(["-c", """
            import sys, glob, pydicom
            sent = {pydicom.dcmread(f).SOPInstanceUID: pydicom.dcmread(f) for f in glob.glob(sys.argv[1] + '/*.dcm')}
            got = [pydicom.dcmread(f) for f in glob.glob(sys.argv[2] + '/**/*.dcm', recursive=True) if '.incoming' not in f]
            same = sum(1 for d in got if d == sent.get(d.SOPInstanceUID))
            print(len(sent), len(got), same)
            """, "\(dir)/in", "\(dir)/out/received"])
        XCTAssertEqual(compare.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "200 200 200", compare.stderr)
        XCTAssertFalse(listener.text.contains("Secret"), "a patient name in the log")
        XCTAssertTrue(listener.text.contains("STORESCU@127.0.0.1: association released (50 instances stored)"), listener.text)
    }

    func testKilledMidStudyAndRestartedFinishesTheStudyOncePerInstance() throws {
        let dir = try Tools.temporaryFolder("kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try Tools.python([Tools.path("scripts/network_cases.py"), "instances", "--template",
                                     Tools.path("studies/chest/person1947_bacteria_4876.dcm"), "--out", "\(dir)/in",
                                     "--studies", "1", "--per-study", "6", "--name", Self.name])
        XCTAssertEqual(made.status, 0, made.stderr)
        let inputs = Tools.dicomFiles(in: "\(dir)/in")
        let port = Tools.freePort()
        let common = ["--db", "\(dir)/db.sqlite", "--out", "\(dir)/out"]
        let first = try Listener(port: port, arguments: common + ["--study-idle", "1h"], log: "\(dir)/listen-1.log")
        XCTAssertEqual(try Tools.run("storescu", ["-xy", "-aec", "DXKIT", "127.0.0.1", String(port)] + inputs.prefix(3)).status, 0)
        first.kill9()
        // A transfer the kill cut off leaves only a temporary file: never an instance, removed at the next start.
        let incoming = "\(dir)/out/received/.incoming"
        try FileManager.default.createDirectory(atPath: incoming, withIntermediateDirectories: true)
        try Data("half a dataset".utf8).write(to: URL(fileURLWithPath: "\(incoming)/1-1.part"))

        let second = try Listener(port: port, arguments: common + ["--study-idle", "1s"], log: "\(dir)/listen-2.log")
        XCTAssertEqual(try Tools.run("storescu", ["-xy", "-aec", "DXKIT", "127.0.0.1", String(port)] + inputs.suffix(3)).status, 0)
        let db = try DatabaseQueue(path: "\(dir)/db.sqlite")
        Tools.waitUntil("the study reported with all 6 instances") {
            (try? db.read { try Int.fetchOne($0, sql: """
                SELECT count(*) FROM results r JOIN instances i ON i.id = r.instance_ref WHERE r.head = 'pneumonia' AND r.status = 'scored'
                """) }) == 6 && (try? db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM received_studies WHERE reported_at >= last_received_at") }) == 1
        }
        XCTAssertEqual(second.stop(), 0)
        let perInstance = try db.read { try Int.fetchAll($0, sql: "SELECT count(*) FROM results WHERE head = 'pneumonia' GROUP BY instance_ref") }
        XCTAssertEqual(perInstance, Array(repeating: 1, count: 6), "one result per instance")
        XCTAssertEqual(try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM received") }, 6)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(incoming)/1-1.part"))
        XCTAssertEqual(try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM instances WHERE path LIKE '%.part'") }, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: Tools.dicomFiles(in: "\(dir)/out").first { $0.hasSuffix("sr.dcm") } ?? "/nonexistent"))
        XCTAssertFalse((second.text + first.text).contains("Secret"))
    }

    func testFaultsGetAStatusOrAbortAndALogLineAndTheSCPKeepsServing() throws {
        let dir = try Tools.temporaryFolder("faults")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = Tools.freePort()
        let listener = try Listener(port: port, arguments: ["--db", "\(dir)/db.sqlite", "--out", "\(dir)/out", "--study-idle", "1s",
                                                           "--allow", "ECHOSCU,STORESCU@127.0.0.1,FAULTPEER@localhost"],
                                    log: "\(dir)/listen.log")
        defer { listener.stop() }
        let peer = Tools.path("scripts/dimse_fault_peer.py")
        // A dataset that is not DICOM: a failure status.
        let garbage = try Tools.run("python3", [peer, "--port", String(port), "--case", "garbage"])
        XCTAssertEqual(garbage.status, 0, garbage.stdout + garbage.stderr)
        XCTAssertEqual(garbage.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "status 0xC000")
        // A peer that aborts mid-transfer.
        XCTAssertEqual(try Tools.run("python3", [peer, "--port", String(port), "--case", "abort"]).status, 0)
        // An unknown SOP class: its presentation context is refused (abstract syntax not supported = 3).
        let unknown = try Tools.run("python3", [peer, "--port", String(port), "--case", "unknown-class"])
        XCTAssertEqual(unknown.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "presentation context result 3")
        // An AE not in --allow is rejected.
        XCTAssertNotEqual(try Tools.run("echoscu", ["-aet", "STRANGER", "-aec", "DXKIT", "127.0.0.1", String(port)]).status, 0)
        // And it keeps serving.
        XCTAssertEqual(try Tools.run("echoscu", ["-aec", "DXKIT", "127.0.0.1", String(port)]).status, 0)
        let file = Tools.path("studies/rg1/RG1_UNCI.dcm")
        XCTAssertEqual(try Tools.run("storescu", ["-aec", "DXKIT", "127.0.0.1", String(port), file]).status, 0)
        Tools.waitUntil("the good instance stored") { listener.text.contains("STORESCU@127.0.0.1: association released (1 instances stored)") }
        let log = listener.text
        for expected in ["error: FAULTPEER@127.0.0.1: C-STORE of SOP instance 1.2.826.0.1.3680043.10.1234.7.1 refused (status 0xC000)",
                         "error: FAULTPEER@127.0.0.1: receiving SOP instance 1.2.826.0.1.3680043.10.1234.7.1 failed: the peer aborted the association; nothing stored",
                         "error: FAULTPEER@127.0.0.1: presentation contexts rejected: 1.2.826.0.1.3680043.10.1234.99 (SOP class not supported)",
                         "error: STRANGER@127.0.0.1: association rejected: calling AE title and address not in --allow"] {
            XCTAssertTrue(log.contains(expected), "missing log line: \(expected)\n\(log)")
        }
        XCTAssertEqual(Tools.dicomFiles(in: "\(dir)/out/received").count, 1, "only the good instance is stored")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/out/received/.incoming"))?.count, 0)
    }
}
