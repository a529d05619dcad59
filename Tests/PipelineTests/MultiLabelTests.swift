import DICOM
import Foundation
import GRDB
import Models
import Pipeline
import Reports
@testable import Store
import XCTest

/// Multi-label heads end to end on real chest radiographs, with the seeded head of
/// `MultiLabelFixture`: per-finding rows equal an independent computation from the backbone's
/// features, decisions at each finding's threshold, study aggregation per finding, report.html,
/// result.json and index.html, and the SR (DCMTK, dciodvfy, pydicom) with one coded finding per label.
final class MultiLabelTests: XCTestCase {
    static let repo = MultiLabelFixture.repo
    static let images = ["person1946_bacteria_4874", "NORMAL2-IM-1427-0001", "NORMAL2-IM-1430-0001"]
    var dir: URL!

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: Self.repo.appendingPathComponent("models/mobilenet-v2/model.json").path),
              FileManager.default.fileExists(atPath: Self.repo.appendingPathComponent("studies/chest").path) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no setup")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-multilabel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// The three chest images (the two normals made one study of one patient with dcmodify),
    /// ingested and scored with the multi-label head; returns the index, the head and the files.
    static func scoredIndex(in dir: URL, heatmaps: Bool = true) throws -> (IndexDatabase, ScoreJob.Head, [String: String]) {
        var files: [String: String] = [:]
        for name in images {
            let target = dir.appendingPathComponent("in/\(name).dcm").path
            try FileManager.default.copyItem(atPath: repo.appendingPathComponent("studies/chest/\(name).dcm").path, toPath: target)
            files[name] = target
        }
        let first = try Instance(file: DicomFile(path: files[images[1]]!))
        let (status, text) = try ExternalTool.run("/usr/bin/dcmodify", ["-nb", "-m", "(0020,000D)=\(first.studyInstanceUID ?? "")",
                                                                    "-m", "(0010,0020)=\(first.patientID ?? "")", files[images[2]]!])
        XCTAssertEqual(status, 0, text)
        let directory = try MultiLabelFixture.write(to: dir.appendingPathComponent("heads").path)
        let head = try MultiLabelFixture.loadHead(directory)
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 2).run(paths: [dir.appendingPathComponent("in").path])
        var options = ScoreJob.Options()
        options.batchSize = 2
        if heatmaps { options.heatmapDirectory = dir.appendingPathComponent("heatmaps").path }
        let summary = try ScoreJob(database: db, heads: [head], options: options).run()
        XCTAssertEqual(summary.scored, 3, "images scored, not rows")
        XCTAssertEqual(summary.errors, 0)
        return (db, head, files)
    }

    func testScoresEveryFindingAndAggregatesPerFinding() throws {
        let (db, head, files) = try Self.scoredIndex(in: dir)
        XCTAssertTrue(head.isMultiLabel)
        XCTAssertEqual(head.findings.map(\.name), MultiLabelFixture.findings.map(\.name))
        let rows = try db.queue.read {
            try Row.fetchAll($0, sql: """
                SELECT i.path, i.sop_instance_uid, i.study_instance_uid, r.finding, r.status, r.probability, r.calibrated_probability,
                       r.decision, r.threshold, r.heatmap_path, r.positive_heatmap_path
                FROM results r JOIN instances i ON i.id = r.instance_ref WHERE r.head = ? ORDER BY r.id
                """, arguments: [MultiLabelFixture.head])
        }
        XCTAssertEqual(rows.count, 3 * MultiLabelFixture.findings.count)
        var expectedByPath: [String: [Double]] = [:]
        for (_, file) in files { expectedByPath[file] = try MultiLabelFixture.expected(file: file) }
        var heatmapsPerImage: [String: [String]] = [:]
        for row in rows {
            let path: String = row["path"], finding: String = row["finding"]
            let spec = try XCTUnwrap(MultiLabelFixture.findings.first { $0.name == finding }, finding)
            let output = MultiLabelFixture.classes.firstIndex(of: finding)!
            let p: Double = row["probability"]
            XCTAssertEqual(row["status"] as String, "scored")
            XCTAssertEqual(p, expectedByPath[path]![output], accuracy: 1e-4, "\(path) \(finding)")
            XCTAssertEqual(row["calibrated_probability"] as Double, p)
            XCTAssertEqual(row["threshold"] as Double, spec.threshold)
            XCTAssertEqual(row["decision"] as String, p >= spec.threshold ? "present" : "absent", "\(path) \(finding)")
            XCTAssertNil(row["positive_heatmap_path"] as String?)
            if let map: String = row["heatmap_path"] { heatmapsPerImage[path, default: []].append(finding + "|" + map) }
        }
        // One map per image: its most probable finding's.
        for (path, expected) in expectedByPath {
            let maps = try XCTUnwrap(heatmapsPerImage[path])
            XCTAssertEqual(maps.count, 1)
            let top = MultiLabelFixture.findings.map(\.name).max {
                expected[MultiLabelFixture.classes.firstIndex(of: $0)!] < expected[MultiLabelFixture.classes.firstIndex(of: $1)!]
            }!
            XCTAssertTrue(maps[0].hasPrefix(top + "|"), "\(maps[0]) should show \(top)")
        }
        // Study results: one per study and finding, the max over the study's images, decided at the finding's threshold.
        let studies = try db.queue.read {
            try Row.fetchAll($0, sql: "SELECT * FROM study_results WHERE head = ? ORDER BY id", arguments: [MultiLabelFixture.head])
        }
        XCTAssertEqual(studies.count, 2 * MultiLabelFixture.findings.count)
        let joined = try Instance(file: DicomFile(path: files[Self.images[1]]!)).studyInstanceUID!
        for s in studies where (s["study_instance_uid"] as String) == joined {
            let finding: String = s["finding"]
            let output = MultiLabelFixture.classes.firstIndex(of: finding)!
            let spec = MultiLabelFixture.findings.first { $0.name == finding }!
            let expected = max(expectedByPath[files[Self.images[1]]!]![output], expectedByPath[files[Self.images[2]]!]![output])
            XCTAssertEqual(s["probability"] as Double, expected, accuracy: 1e-4)
            XCTAssertEqual(s["instances"] as Int, 2)
            XCTAssertEqual(s["decision"] as String, (s["calibrated_probability"] as Double) >= spec.threshold ? "present" : "absent")
        }
        XCTAssertEqual(Set(studies.map { $0["finding"] as String }), Set(MultiLabelFixture.findings.map(\.name)))
        // Resuming scores nothing twice.
        let again = try ScoreJob(database: db, heads: [head], options: ScoreJob.Options()).run()
        XCTAssertEqual(again.scored, 0)
        XCTAssertEqual(again.alreadyDone, 3)
        XCTAssertEqual(try db.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM results")! }, rows.count)
    }

    func testReportsListEveryFindingEscaped() throws {
        let (db, _, files) = try Self.scoredIndex(in: dir)
        let out = dir.appendingPathComponent("reports").path
        let summary = try ReportWriter(database: db, output: out, version: "test").write()
        XCTAssertTrue(summary.failures.isEmpty, "\(summary.failures)")
        let joined = try Instance(file: DicomFile(path: files[Self.images[1]]!)).studyInstanceUID!
        let folder = "\(out)/study-\(SafeName.file(joined))"
        let html = try String(contentsOfFile: "\(folder)/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("<h2>Study findings</h2>"))
        XCTAssertFalse(html.contains("Nodule <b>"), "finding names are escaped")
        XCTAssertTrue(html.contains("Nodule &lt;b&gt;&amp;"))
        for f in MultiLabelFixture.findings {
            XCTAssertTrue(html.contains(String(format: "%.2f", f.threshold)), "threshold of \(f.name)")
        }
        XCTAssertEqual(html.components(separatedBy: "class=\"image-finding\"").count - 1, 2 * MultiLabelFixture.findings.count)
        XCTAssertEqual(html.components(separatedBy: "class=\"study-finding\"").count - 1, MultiLabelFixture.findings.count)
        XCTAssertTrue(html.contains("the image&#39;s most probable finding") || html.contains("the image's most probable finding"), "captions name the finding")
        XCTAssertTrue(html.contains("SCT 233604007 Pneumonia") && html.contains("private code (99DXKIT)"), "model summary lists findings")

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/result.json"))) as! [String: Any]
        let results = try XCTUnwrap(json["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 2 * MultiLabelFixture.findings.count)
        let stored = try db.queue.read {
            try Row.fetchAll($0, sql: "SELECT i.sop_instance_uid, r.finding, r.probability, r.threshold, r.decision FROM results r JOIN instances i ON i.id = r.instance_ref")
        }
        for r in results {
            let finding = try XCTUnwrap(r["finding"] as? String)
            let match = try XCTUnwrap(stored.first { ($0["sop_instance_uid"] as String) == r["sop_instance_uid"] as? String && ($0["finding"] as String) == finding })
            XCTAssertEqual(r["probability"] as? Double ?? -1, match["probability"] as Double, accuracy: 1e-9)
            XCTAssertEqual(r["threshold"] as? Double, match["threshold"] as Double)
            XCTAssertEqual(r["decision"] as? String, match["decision"] as String)
        }
        let study = try XCTUnwrap(json["study_results"] as? [[String: Any]])
        XCTAssertEqual(study.compactMap { $0["finding"] as? String }, MultiLabelFixture.findings.map(\.name))
        XCTAssertEqual(study.compactMap { $0["threshold"] as? Double }, MultiLabelFixture.findings.map(\.threshold))

        let index = try String(contentsOfFile: "\(out)/index.html", encoding: .utf8)
        let present = try db.queue.read {
            try String.fetchAll($0, sql: "SELECT finding FROM study_results WHERE decision = 'present'")
        }
        XCTAssertTrue(index.contains("\(MultiLabelFixture.head): "))
        if present.isEmpty { XCTAssertTrue(index.contains("no finding present")) }
        for name in present { XCTAssertTrue(index.contains(name.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")), name) }
    }

    func testSRHasOneCodedFindingPerLabel() throws {
        let (db, _, files) = try Self.scoredIndex(in: dir)
        let out = dir.appendingPathComponent("reports").path
        _ = try ReportWriter(database: db, output: out, version: "test").write()
        let joined = try Instance(file: DicomFile(path: files[Self.images[1]]!)).studyInstanceUID!
        let sr = "\(out)/study-\(SafeName.file(joined))/sr.dcm"
        let (dump, dumpText) = try ExternalTool.run("/usr/bin/dsrdump", ["-v", sr])
        XCTAssertEqual(dump, 0, dumpText)
        XCTAssertFalse(dumpText.contains("E: "), dumpText)
        let (_, verify) = try ExternalTool.run("/usr/bin/dciodvfy", [sr])
        XCTAssertFalse(verify.split(separator: "\n").contains { $0.hasPrefix("Error") }, verify)
        let (status, text) = try ExternalTool.run(Self.repo.appendingPathComponent(".venv/bin/python").path,
                                          [Self.repo.appendingPathComponent("scripts/read_sr.py").path, sr])
        XCTAssertEqual(status, 0, text)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let groups = try XCTUnwrap(object["groups"] as? [[String: Any]])
        XCTAssertEqual(groups.count, 2 * MultiLabelFixture.findings.count, "one coded finding per label and image")
        XCTAssertTrue((object["private_schemes"] as? [String] ?? []).contains("99DXKIT"))
        let stored = try db.queue.read {
            try Row.fetchAll($0, sql: "SELECT i.sop_instance_uid, r.finding, r.probability, r.decision FROM results r JOIN instances i ON i.id = r.instance_ref")
        }
        var seen = Set<String>()
        for g in groups {
            let meaning = try XCTUnwrap(g["Finding"] as? String)
            let spec = try XCTUnwrap(MultiLabelFixture.findings.first { ($0.code?["meaning"] ?? $0.name) == meaning }, meaning)
            let code = try XCTUnwrap(g["Finding code"] as? String)
            if let c = spec.code { XCTAssertEqual(code, "\(c["scheme"]!) \(c["value"]!)") } else { XCTAssertTrue(code.hasPrefix("99DXKIT DXKF"), code) }
            let sop = try XCTUnwrap(g["Source of Measurement"] as? String)
            let row = try XCTUnwrap(stored.first { ($0["sop_instance_uid"] as String) == sop && ($0["finding"] as String) == spec.name })
            XCTAssertEqual(g["Probability of finding"] as? Double ?? -1, row["probability"] as Double, accuracy: 1e-6)
            XCTAssertEqual(g[meaning] as? String, (row["decision"] as String) == "present" ? "Present" : "Absent")
            seen.insert(sop + "|" + spec.name)
        }
        XCTAssertEqual(seen.count, groups.count)
        // Derived identity: the same results give the same UIDs.
        _ = try ReportWriter(database: db, output: out + "-again", version: "test").write()
        let (_, again) = try ExternalTool.run(Self.repo.appendingPathComponent(".venv/bin/python").path,
                                      [Self.repo.appendingPathComponent("scripts/read_sr.py").path, "\(out)-again/study-\(SafeName.file(joined))/sr.dcm"])
        let second = try JSONSerialization.jsonObject(with: Data(again.utf8)) as! [String: Any]
        XCTAssertEqual(second["sop_instance_uid"] as? String, object["sop_instance_uid"] as? String)
    }
}
