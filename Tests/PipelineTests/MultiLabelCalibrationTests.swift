import Evaluation
import Foundation
import GRDB
import Models
import Pipeline
import Reports
@testable import Store
import XCTest

/// Multi-label heads' calibration, audits, labels files, export, card validation and the v8
/// migration (`finding` columns) of an index written before it.
final class MultiLabelCalibrationTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-multilabel-cal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func write(_ text: String, _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// sop → instance UID of the three fixture images.
    func sops(_ db: IndexDatabase) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try db.queue.read {
            try Row.fetchAll($0, sql: "SELECT path, sop_instance_uid FROM instances").map {
                (URL(fileURLWithPath: $0["path"] as String).deletingPathExtension().lastPathComponent, $0["sop_instance_uid"] as String)
            }
        })
    }

    func testCalibrateAuditAndExportPerFinding() throws {
        guard FileManager.default.fileExists(atPath: MultiLabelFixture.repo.appendingPathComponent("models/mobilenet-v2/model.json").path) else {
            XCTFail("run `make setup` first")
            return
        }
        let (db, head, _) = try MultiLabelTests.scoredIndex(in: dir, heatmaps: false)
        let sop = try sops(db)
        let images = MultiLabelTests.images
        let csv = "sop_instance_uid,finding,label,sex\n"
            + "\(sop[images[0]]!),Pneumonia,1,F\n\(sop[images[1]]!),Pneumonia,0,M\n\(sop[images[2]]!),Pneumonia,absent,F\n"
            + "\(sop[images[0]]!),Effusion,0,F\n\(sop[images[1]]!),Effusion,present,M\n\(sop[images[2]]!),Effusion,0,F\n"
        let labels = try LabelsFile(path: write(csv, "labels.csv"))
        XCTAssertEqual(labels.labelledFindings(in: head.findings.map(\.name)), ["Pneumonia", "Effusion"])
        let names = head.findings.map(\.name)
        for finding in ["Pneumonia", "Effusion"] {
            let o = try CalibrateJob(database: db).run(labels: labels.forFinding(finding, head: head.name, findings: names), head: head.name,
                                                       modelSha256: head.sha256, finding: finding, classes: ["absent", "present"],
                                                       method: "temperature", rule: .keep(0.5))
            XCTAssertEqual(o.n, 3)
        }
        let calibrations = try db.queue.read {
            try Row.fetchAll($0, sql: "SELECT finding, active FROM calibrations ORDER BY id")
        }
        XCTAssertEqual(calibrations.map { $0["finding"] as String }, ["Pneumonia", "Effusion"])
        var reloaded = head
        XCTAssertEqual(try reloaded.applyStoredCalibrations(ResultStore(database: db)).map(\.finding), ["Pneumonia", "Effusion"])
        XCTAssertEqual(reloaded.findings.first { $0.name == "Nodule <b>&" }?.rule.threshold, 0.6, "uncalibrated findings keep the card's threshold")
        let (count, _) = try XCTUnwrap(try Recalibration.run(database: db, head: head))
        XCTAssertEqual(count, 6)
        let rows = try db.queue.read {
            try Row.fetchAll($0, sql: "SELECT finding, probability, calibrated_probability, decision, threshold FROM results")
        }
        for r in rows {
            let finding: String = r["finding"], p: Double = r["probability"], c: Double = r["calibrated_probability"]
            if let calibrator = reloaded.calibrator(for: finding) {
                XCTAssertEqual(c, calibrator.apply(p), accuracy: 1e-12)
                XCTAssertEqual(r["threshold"] as Double, 0.5)
                XCTAssertEqual(r["decision"] as String, c >= 0.5 ? "present" : "absent")
            } else {
                XCTAssertEqual(c, p, "\(finding) has no calibration")
            }
        }

        // Audits per finding, stored and shown with the finding.
        var audit = SubgroupAudit()
        audit.attributes = ["sex"]
        audit.minimumSize = 1
        audit.bootstrap = Bootstrap(replicates: 20)
        let (id, results) = try AuditJob(database: db).run(labels: labels.forFinding("Effusion", head: head.name, findings: names),
                                                          head: head.name, modelSha256: head.sha256, finding: "Effusion",
                                                          classes: ["absent", "present"], audit: audit)
        XCTAssertEqual(results.n, 3)
        XCTAssertEqual(try ResultStore(database: db).audit(id)?.finding, "Effusion")
        let page = try String(contentsOfFile: AuditPage.write(database: db, audit: id, to: dir.appendingPathComponent("audit").path),
                              encoding: .utf8)
        XCTAssertTrue(page.contains("\(head.name) · Effusion"))

        // Export: the finding column in every table.
        for kind in ExportKind.allCases {
            let out = dir.appendingPathComponent("\(kind.rawValue).csv")
            FileManager.default.createFile(atPath: out.path, contents: nil)
            let handle = try FileHandle(forWritingTo: out)
            _ = try ExportJob(database: db).run(kind, format: .csv, to: handle)
            try handle.close()
            let lines = try String(contentsOf: out, encoding: .utf8).split(whereSeparator: \.isNewline)
            let header = lines[0].split(separator: ",").map(String.init)
            let column = try XCTUnwrap(header.firstIndex(of: "finding"), "\(kind)")
            if kind == .results {
                XCTAssertEqual(lines.count - 1, 3 * MultiLabelFixture.findings.count)
                XCTAssertTrue(lines.dropFirst().contains { $0.split(separator: ",", omittingEmptySubsequences: false)[column] == "Effusion" })
            }
        }
    }

    func testLabelsFilesAreCheckedAgainstTheFindings() throws {
        let names = MultiLabelFixture.findings.map(\.name)
        let noColumn = try LabelsFile(path: write("sop_instance_uid,label\n1.2.3,1\n", "a.csv"))
        XCTAssertThrowsError(try noColumn.forFinding("Pneumonia", head: "chest-findings", findings: names)) {
            XCTAssertTrue("\($0)".contains("a.csv") && "\($0)".contains("no finding column"), "\($0)")
        }
        let unknown = try LabelsFile(path: write("sop_instance_uid,finding,label\n1.2.3,Pneumonia,1\n1.2.4,Cardiomegaly,0\n", "b.csv"))
        XCTAssertThrowsError(try unknown.forFinding("Pneumonia", head: "chest-findings", findings: names)) {
            XCTAssertTrue("\($0)".contains("b.csv") && "\($0)".contains("line 3: finding 'Cardiomegaly'"), "\($0)")
        }
        let twice = try LabelsFile(path: write("sop_instance_uid,finding,label\n1.2.3,Pneumonia,1\n1.2.3,Pneumonia,0\n", "c.csv"))
        XCTAssertThrowsError(try twice.forFinding("Pneumonia", head: "chest-findings", findings: names)) {
            XCTAssertTrue("\($0)".contains("line 3") && "\($0)".contains("already on line 2"), "\($0)")
        }
        XCTAssertThrowsError(try LabelsFile(path: write("sop_instance_uid,finding,label\n1.2.3,,1\n", "d.csv"))) {
            XCTAssertTrue("\($0)".contains("line 2: empty finding"), "\($0)")
        }
        let ok = try LabelsFile(path: write("sop_instance_uid,finding,label\n1.2.3,Pneumonia,1\n", "e.csv"))
        XCTAssertThrowsError(try ok.forFinding("Effusion", head: "chest-findings", findings: names)) {
            XCTAssertTrue("\($0)".contains("no row labels finding Effusion"), "\($0)")
        }
        XCTAssertThrowsError(try ok.checkSingleLabel(head: "pneumonia")) { XCTAssertTrue("\($0)".contains("single-label"), "\($0)") }
        XCTAssertNoThrow(try noColumn.checkSingleLabel(head: "pneumonia"))
        XCTAssertEqual(ok.rows[0].finding, "Pneumonia")
        XCTAssertNil(ok.rows[0].extra["finding"])
    }

    func testMalformedMultiLabelCardsAreRefused() throws {
        guard FileManager.default.fileExists(atPath: MultiLabelFixture.repo.appendingPathComponent("models/mobilenet-v2/model.json").path) else {
            XCTFail("run `make setup` first")
            return
        }
        func findings(_ card: inout [String: Any], _ change: (inout [[String: Any]]) -> Void) {
            var scoring = card["scoring"] as! [String: Any]
            var list = scoring["findings"] as! [[String: Any]]
            change(&list)
            scoring["findings"] = list
            card["scoring"] = scoring
        }
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("finding Cardiomegaly must name exactly one of the card's classes", { findings(&$0) { $0[0]["name"] = "Cardiomegaly" } }),
            ("finding Effusion is listed twice", { findings(&$0) { $0[0]["name"] = "Effusion" } }),
            ("threshold 1.5 is not in [0, 1]", { findings(&$0) { $0[1]["threshold"] = 1.5 } }),
            ("remove scoring.positive_class", { card in
                var scoring = card["scoring"] as! [String: Any]
                scoring["positive_class"] = "Pneumonia"
                card["scoring"] = scoring
            }),
            ("needs scoring.findings", { findings(&$0) { $0 = [] } }),
            ("scoring.findings is for multi-label heads", { $0["output"] = "softmax" }),
        ]
        for (i, (reason, edit)) in cases.enumerated() {
            let directory = try MultiLabelFixture.write(to: dir.appendingPathComponent("case\(i)").path, edit: edit)
            XCTAssertThrowsError(try MultiLabelFixture.loadHead(directory), reason) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(error)")
                XCTAssertTrue("\(error)".contains("\(directory)/model.json"), "\(error)")
            }
        }
        XCTAssertNoThrow(try MultiLabelFixture.loadHead(MultiLabelFixture.write(to: dir.appendingPathComponent("good").path)))

        // More classes than the network has outputs: each image an error row naming the mismatch, no crash.
        let extra = try MultiLabelFixture.write(to: dir.appendingPathComponent("extra").path) { card in
            card["classes"] = MultiLabelFixture.classes + ["Mass"]
            var scoring = card["scoring"] as! [String: Any]
            scoring["findings"] = (scoring["findings"] as! [[String: Any]]) + [["name": "Mass", "threshold": 0.5]]
            card["scoring"] = scoring
        }
        let chest = MultiLabelFixture.repo.appendingPathComponent("studies/chest/NORMAL2-IM-1427-0001.dcm").path
        try FileManager.default.copyItem(atPath: chest, toPath: dir.appendingPathComponent("in/a.dcm").path)
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 1).run(paths: [dir.appendingPathComponent("in").path])
        let summary = try ScoreJob(database: db, heads: [MultiLabelFixture.loadHead(extra)], options: ScoreJob.Options()).run()
        XCTAssertEqual(summary.errors, 1)
        let reason = try db.queue.read { try String.fetchOne($0, sql: "SELECT reason FROM results WHERE finding = '' AND status = 'error'") }
        XCTAssertTrue(reason?.contains("reads output 6, but the network has 5 outputs") ?? false, reason ?? "no error row")
    }

    /// An index written at v7 (before per-finding rows) keeps every row: results, study results,
    /// calibrations and audits get finding '' (a single-label head's), and rows per finding can follow.
    func testMigrationFromV7KeepsRows() throws {
        let path = dir.appendingPathComponent("v7.sqlite").path
        let queue = try DatabaseQueue(path: path)
        try IndexSchema.migrator.migrate(queue, upTo: "v7-run-uid")
        try queue.write { db in
            try db.execute(sql: """
                INSERT INTO instances (id, path, file_size, file_mtime, content_sha256, status, ingested_at, study_instance_uid, patient_key)
                VALUES (1, '/x/a.dcm', 10, 0, 'abc', 'ok', 't', '1.2.3', 'P1');
                INSERT INTO results (instance_ref, head, model_sha256, status, probability, calibrated_probability, decision, threshold,
                                     heatmap_path, positive_heatmap_path, scored_at)
                VALUES (1, 'pneumonia', 'sha', 'scored', 0.25, 0.3, 'NORMAL', 0.5, 'h.png', 'p.png', 't');
                INSERT INTO study_results (study_instance_uid, patient_key, head, model_sha256, probability, calibrated_probability,
                                           decision, rule, instances, updated_at)
                VALUES ('1.2.3', 'P1', 'pneumonia', 'sha', 0.25, 0.3, 'NORMAL', 'max', 1, 't');
                INSERT INTO calibrations (head, model_sha256, method, calibrator, threshold, threshold_rule, n, labels_sha256, metrics, fitted_at)
                VALUES ('pneumonia', 'sha', 'temperature', '{}', 0.4, 'fixed', 3, 'l', '{}', 't');
                INSERT INTO audits (kind, head, model_sha256, labels_sha256, parameters, results, created_at)
                VALUES ('subgroup', 'pneumonia', 'sha', 'l', '{}', '{}', 't');
                """)
        }
        try queue.close()
        let db = try IndexDatabase(path: path)
        try db.queue.read { db in
            let r = try XCTUnwrap(try Row.fetchOne(db, sql: "SELECT * FROM results"))
            XCTAssertEqual(r["finding"] as String, "")
            XCTAssertEqual(r["probability"] as Double, 0.25)
            XCTAssertEqual(r["decision"] as String, "NORMAL")
            XCTAssertEqual(r["positive_heatmap_path"] as String, "p.png")
            let s = try XCTUnwrap(try Row.fetchOne(db, sql: "SELECT * FROM study_results"))
            XCTAssertEqual(s["finding"] as String, "")
            XCTAssertEqual(s["calibrated_probability"] as Double, 0.3)
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT finding FROM calibrations"), "")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT finding FROM audits"), "")
        }
        let store = ResultStore(database: db)
        XCTAssertEqual(try store.activeCalibration(head: "pneumonia", modelSha256: "sha")?.threshold, 0.4)
        XCTAssertTrue(try store.existingKeys().contains(ResultStore.key(1, "pneumonia", "sha")))
        var row = ResultRow(instanceID: 1, head: "chest", finding: "Effusion", modelSha256: "sha2", status: .scored)
        row.probability = 0.7
        let run = try store.startRun(version: "test", heads: ["chest"])
        try store.write([row, ResultRow(instanceID: 1, head: "chest", finding: "Pneumonia", modelSha256: "sha2", status: .scored)], run: run)
        XCTAssertEqual(try db.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM results")! }, 3)
    }
}
