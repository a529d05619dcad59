import Foundation
import GRDB
import XCTest

/// `dxkit listen` between DCMTK's storescu and a real Orthanc: studies in, SR and heatmaps back into
/// the right study, once, however often the study is reported.
final class ListenTests: XCTestCase {
    let chest = ["studies/chest/NORMAL2-IM-1427-0001.dcm", "studies/chest/person1946_bacteria_4874.dcm"].map(Tools.path)

    func testSRArrivesInOrthancInTheRightStudyOnceAfterTwoRuns() throws {
        let listenPort = Tools.freePort()
        let orthanc = try Orthanc(modalities: ["DXKIT": listenPort])
        defer { orthanc.stop() }
        let dir = try Tools.temporaryFolder("listen")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let arguments = ["--db", "\(dir)/db.sqlite", "--out", "\(dir)/out", "--send-to", orthanc.peer, "--study-idle", "1s"]
        let studies = try chest.map { try studyUID($0) }

        for run in 1...2 {
            let listener = try Listener(port: listenPort, arguments: arguments, log: "\(dir)/listen-\(run).log")
            // JPEG baseline files: storescu proposes their own transfer syntax (-xy), stored as received.
            let sent = try Tools.run("storescu", ["-xy", "-aec", "DXKIT", "127.0.0.1", String(listenPort)] + chest)
            XCTAssertEqual(sent.status, 0, sent.stderr)
            Tools.waitUntil("run \(run): results of both studies sent to Orthanc") { Self.sent(listener.text) >= 5 }
            XCTAssertEqual(listener.stop(), 0, listener.text)
            XCTAssertTrue(listener.text.contains("stopped: 2 instances received"), listener.text)
            // No patient names in the log (the chest files' names are Anonymous^<file name>).
            XCTAssertFalse(listener.text.contains("Anonymous"), listener.text)
        }

        let db = try DatabaseQueue(path: "\(dir)/db.sqlite")
        for study in studies {
            let series = try orthanc.series(ofStudy: study)
            let sr = series.filter { $0.modality == "SR" }
            XCTAssertEqual(sr.count, 1, "one SR series in study \(study)")
            XCTAssertEqual(sr.first?.sopInstanceUIDs.count, 1, "one SR instance after two runs")
            XCTAssertEqual(sr.first?.number, "9901")
            let recorded = try db.read { try String.fetchAll($0, sql: "SELECT sop_instance_uid FROM dicom_outputs WHERE study_instance_uid = ? AND kind = 'sr'", arguments: [study]) }
            XCTAssertEqual(recorded, sr.first?.sopInstanceUIDs, "the SR in Orthanc is the one dxkit derived and recorded")
            XCTAssertTrue(recorded.first?.hasPrefix("2.25.") ?? false)
            let maps = try db.read { try String.fetchAll($0, sql: "SELECT sop_instance_uid FROM dicom_outputs WHERE study_instance_uid = ? AND kind = 'heatmap' ORDER BY 1", arguments: [study]) }
            let scSeries = series.filter { $0.modality == "OT" }
            XCTAssertEqual(scSeries.count, 1)
            XCTAssertEqual(scSeries.first?.number, "9902")
            XCTAssertEqual(scSeries.first?.sopInstanceUIDs.sorted(), maps, "each heatmap once")
            XCTAssertFalse(maps.isEmpty)
            let sent = try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sent WHERE status = 'sent' AND destination = ?", arguments: [orthanc.peer]) }
            XCTAssertEqual(sent, 5)
        }
        // The SR and heatmap objects pass dciodvfy with no errors; the SR codes the finding and the decision.
        let objects = Tools.dicomFiles(in: "\(dir)/out").filter { !$0.contains("/received/") }
        XCTAssertEqual(objects.count, 5)
        for object in objects {
            let check = try Tools.run("dciodvfy", [object])
            let errors = (check.stdout + check.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }
            XCTAssertEqual(errors, [], "\(object): \(errors)")
        }
        for (file, study) in zip(chest, studies) {
            let decision = try db.read {
                try String.fetchOne($0, sql: """
                    SELECT r.decision FROM results r JOIN instances i ON i.id = r.instance_ref
                    WHERE i.study_instance_uid = ? AND r.head = 'pneumonia' AND i.path LIKE '%/received/%'
                    """, arguments: [study])
            }
            let sr = Tools.dicomFiles(in: "\(dir)/out").first { $0.hasSuffix("sr.dcm") && $0.contains(study) }!
            let dump = try Tools.run("dsrdump", [sr]).stdout
            XCTAssertTrue(dump.contains("(233604007,SCT,\"Pneumonia\")"), dump)
            let value = decision == "PNEUMONIA" ? "(52101004,SCT,\"Present\")" : "(2667000,SCT,\"Absent\")"
            XCTAssertTrue(dump.contains("CODE:(,,\"Pneumonia\")=\(value)"), "\(file) decided \(decision ?? "?"): \(dump)")
            XCTAssertTrue(dump.contains("\"Illustration of ROI\""), dump)
            let meta = try Tools.run("dcmdump", [sr]).stdout
            XCTAssertTrue(meta.contains("CodingSchemeDesignator") && meta.contains("[99DXKIT]") && meta.contains("[dxkit private codes]"), meta)
        }
    }

    func testResultsGoBackByStowRSWithCredentialsFromTheEnvironment() throws {
        let orthanc = try Orthanc(modalities: [:])
        defer { orthanc.stop() }
        let dir = try Tools.temporaryFolder("listen-stow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = Tools.freePort()
        let listener = try Listener(port: port, arguments: ["--db", "\(dir)/db.sqlite", "--out", "\(dir)/out", "--study-idle", "1s",
                                                           "--send-to-dicomweb", orthanc.dicomweb],
                                    log: "\(dir)/listen.log", environment: orthanc.credentials)
        XCTAssertEqual(try Tools.run("storescu", ["-xy", "-aec", "DXKIT", "127.0.0.1", String(port), chest[1]]).status, 0)
        Tools.waitUntil("results sent by STOW-RS") { Self.sent(listener.text) >= 2 }
        XCTAssertEqual(listener.stop(), 0)
        XCTAssertFalse(listener.text.contains(Orthanc.password))
        let db = try DatabaseQueue(path: "\(dir)/db.sqlite")
        let outputs = try db.read { try String.fetchAll($0, sql: "SELECT sop_instance_uid FROM dicom_outputs") }
        XCTAssertGreaterThanOrEqual(outputs.count, 2)
        for uid in outputs { XCTAssertTrue(try orthanc.has(instance: uid), "\(uid) not in Orthanc") }
        let series = try orthanc.series(ofStudy: try studyUID(chest[1]))
        XCTAssertEqual(series.filter { $0.modality == "SR" }.map(\.number), ["9901"])
    }

    /// Objects the log says were sent ("sent N of M objects to …" lines, N summed).
    static func sent(_ log: String) -> Int {
        log.split(separator: "\n").compactMap { line -> Int? in
            guard let r = line.range(of: "sent ") , line.contains(" objects to ") else { return nil }
            return Int(line[r.upperBound...].split(separator: " ")[0])
        }.reduce(0, +)
    }

    func studyUID(_ file: String) throws -> String {
        let out = try Tools.run("dcmdump", ["+P", "0020,000d", file]).stdout
        return String(out.split(separator: "[")[1].split(separator: "]")[0])
    }
}
