import DICOM
import Foundation
import GRDB
import Models
import Reports
import Pipeline
@testable import Store
import XCTest

/// Scoring and reporting on real images: routing, values against the Keras fixtures, resuming,
/// and untrusted DICOM text in reports.
final class ScoringTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    var dir: URL!

    func path(_ relative: String) -> String { Self.repo.appendingPathComponent(relative).path }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: path("models/xception-pneumonia/model.json")),
              FileManager.default.fileExists(atPath: path("studies/chest")) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no setup")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-scoring-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func copy(_ source: String, as name: String) throws {
        try FileManager.default.copyItem(atPath: path(source), toPath: dir.appendingPathComponent("in/\(name)").path)
    }

    func pneumoniaHead() throws -> ScoreJob.Head {
        try ScoreJob.Head(classifier: Classifier(directory: path("models/xception-pneumonia")))
    }

    func scorer(_ db: IndexDatabase) throws -> ScoreJob {
        var options = ScoreJob.Options()
        options.batchSize = 4
        options.heatmapDirectory = dir.appendingPathComponent("heatmaps").path
        return ScoreJob(database: db, heads: [try pneumoniaHead()], options: options)
    }

    struct Fixture: Decodable {
        struct Image: Decodable { let image: String; let probabilities: [Double] }
        struct Pneumonia: Decodable { let images: [Image] }
        let pneumonia: Pneumonia
    }

    func testRoutesByAttributesAndMatchesKeras() throws {
        let chest = ["NORMAL2-IM-1427-0001", "NORMAL2-IM-1430-0001", "person1946_bacteria_4874"]
        for name in chest { try copy("studies/chest/\(name).dcm", as: "\(name).dcm") }
        try copy("studies/mammograms/sfm-benign-0/1-130.dcm", as: "mammo.dcm")
        try copy(".cache/data/pydicom/pydicom/data/test_files/CT_small.dcm", as: "ct.dcm")
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 2).run(paths: [dir.appendingPathComponent("in").path])
        let summary = try scorer(db).run()
        XCTAssertEqual(summary.scored, 3)
        XCTAssertEqual(summary.notApplicable, 2, "the mammogram and the CT are for no installed head")
        XCTAssertEqual(summary.errors, 0)

        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath:
            path("Tests/ModelsTests/Fixtures/reference-outputs.json")))).pneumonia.images
        try db.queue.read { db in
            for name in chest {
                let row = try XCTUnwrap(try Row.fetchOne(db, sql: """
                    SELECT r.* FROM results r JOIN instances i ON i.id = r.instance_ref WHERE i.path LIKE ? AND r.head = 'pneumonia'
                    """, arguments: ["%/\(name).dcm"]))
                let expected = try XCTUnwrap(fixture.first { $0.image == name }).probabilities[1]
                XCTAssertEqual(row["probability"] as Double? ?? -1, expected, accuracy: 1e-4, name)
                XCTAssertEqual(row["decision"] as String?, expected >= 0.5 ? "PNEUMONIA" : "NORMAL")
                let heatmap = StoredPath.resolve(row["heatmap_path"] as String? ?? "", database: dir.appendingPathComponent("x.sqlite").path)
                XCTAssertTrue(FileManager.default.fileExists(atPath: heatmap), "heatmap written: \(heatmap)")
                // The decided class's map, and the positive class's beside it when the decision is negative.
                let decided = expected >= 0.5 ? "PNEUMONIA" : "NORMAL"
                XCTAssertTrue(heatmap.hasSuffix("-pneumonia-\(decided).png"), heatmap)
                let positive: String? = row["positive_heatmap_path"]
                if decided == "NORMAL" {
                    let path = StoredPath.resolve(positive ?? "", database: dir.appendingPathComponent("x.sqlite").path)
                    XCTAssertTrue(path.hasSuffix("-pneumonia-PNEUMONIA.png") && FileManager.default.fileExists(atPath: path), path)
                } else {
                    XCTAssertNil(positive)
                }
            }
            let wrong = try Int.fetchOne(db, sql: """
                SELECT count(*) FROM results r JOIN instances i ON i.id = r.instance_ref
                WHERE r.head = 'pneumonia' AND i.modality NOT IN ('CR', 'DX')
                """)
            XCTAssertEqual(wrong, 0, "no wrong-modality image is scored by the pneumonia head")
            let reason = try String.fetchOne(db, sql: """
                SELECT r.reason FROM results r JOIN instances i ON i.id = r.instance_ref WHERE i.modality = 'MG'
                """)
            XCTAssertTrue(reason?.contains("modality MG") ?? false, reason ?? "no reason")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM study_results"), 3)
        }
        // Re-running scores nothing twice.
        let again = try scorer(db).run()
        XCTAssertEqual(again.scored, 0)
        XCTAssertEqual(again.alreadyDone, 5)
        XCTAssertEqual(try db.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM results") }, 5)
    }

    /// Weights load while the workers decode: when they cannot be read, the run stops with the
    /// file and the reason and writes no result rows.
    func testUnreadableWeightsStopTheRunWithTheFile() throws {
        // More images than the queue holds (batch 1 + 2 per worker): workers are waiting on it.
        let chest = try FileManager.default.contentsOfDirectory(atPath: path("studies/chest")).filter { $0.hasSuffix(".dcm") }.sorted()
        for name in chest.prefix(8) { try copy("studies/chest/\(name)", as: name) }
        let model = dir.appendingPathComponent("broken-model")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path("models/xception-pneumonia/model.json"), toPath: model.appendingPathComponent("model.json").path)
        try Data("not a safetensors file".utf8).write(to: model.appendingPathComponent("model.safetensors"))
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 2).run(paths: [dir.appendingPathComponent("in").path])
        var options = ScoreJob.Options()
        options.batchSize = 1
        XCTAssertThrowsError(try ScoreJob(database: db, heads: [try ScoreJob.Head(directory: model.path)], options: options).run()) {
            XCTAssertTrue("\($0)".contains("broken-model/model.safetensors"), "\($0)")
        }
        XCTAssertEqual(try db.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM results") }, 0)
    }

    func testReportsEscapeUntrustedTextAndStayInsideTheOutputFolder() throws {
        let evil = dir.appendingPathComponent("in/evil.dcm").path
        try copy("studies/chest/NORMAL2-IM-1427-0001.dcm", as: "evil.dcm")
        let modify = Process()
        modify.executableURL = URL(fileURLWithPath: "/usr/bin/dcmodify")
        modify.arguments = ["-nb", "-ie", "-m", "(0010,0010)=<script>alert(1)</script>", "-m",
                            "(0010,0020)=O'Brien \"quoted\" & <b>", "-m", "(0020,000D)=1.2.3/../../evil",
                            "-m", "(0008,0018)=../../sop\"x", evil]
        try modify.run()
        modify.waitUntilExit()
        XCTAssertEqual(modify.terminationStatus, 0)
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 1).run(paths: [dir.appendingPathComponent("in").path])
        XCTAssertEqual(try scorer(db).run().scored, 1)
        let out = dir.appendingPathComponent("reports").path
        let written = try ReportWriter(database: db, output: out).write()
        XCTAssertEqual(written.studies, 1)
        XCTAssertEqual(written.failures.count, 1, "an SR cannot reference the invalid SOP Instance UID; said, not crashed")
        XCTAssertTrue(written.failures.first?.reason.contains("image reference") ?? false, "\(written.failures)")

        // Every file written stays inside the output folder, and the study folder has no '/' or '..' of its own.
        let files = FileManager.default.enumerator(atPath: out)!.allObjects as! [String]
        let study = try XCTUnwrap(files.first { $0.hasSuffix("report.html") })
        let folder = (study as NSString).deletingLastPathComponent
        XCTAssertFalse(folder.contains("/") || folder.hasPrefix("."), folder)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("evil").path))
        let heatmaps = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("heatmaps").path)
        XCTAssertFalse(heatmaps.isEmpty)
        XCTAssertTrue(heatmaps.allSatisfy { !$0.contains("/") && !$0.hasPrefix(".") }, "\(heatmaps)")

        let html = try String(contentsOfFile: "\(out)/\(study)", encoding: .utf8)
        XCTAssertFalse(html.contains("<script>alert(1)</script>"))
        // Every overlay says which class it explains, with that class's probability.
        let decision = try db.queue.read { try String.fetchOne($0, sql: "SELECT decision FROM results WHERE head = 'pneumonia'") } ?? "?"
        XCTAssertTrue(html.contains("<figcaption>Evidence for \(decision) (p = "), html)
        XCTAssertTrue(html.contains("alt=\"heatmap of the evidence for \(decision)"))
        if decision == "NORMAL" { XCTAssertTrue(html.contains("<figcaption>Evidence for PNEUMONIA (p = ")) }
        XCTAssertTrue(html.contains("shaded by that class"), "the page says how maps are scaled")
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("O&#39;Brien &quot;quoted&quot; &amp; &lt;b&gt;"))
        let index = try String(contentsOfFile: "\(out)/index.html", encoding: .utf8)
        XCTAssertFalse(index.contains("<b>"))
        XCTAssertTrue(index.contains("1.2.3/../../evil"), "shown as text")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
            "\(out)/\((study as NSString).deletingLastPathComponent)/result.json"))) as! [String: Any]
        XCTAssertEqual(json["study_instance_uid"] as? String, "1.2.3/../../evil")
        let results = try XCTUnwrap(json["results"] as? [[String: Any]])
        XCTAssertEqual(results.first?["sop_instance_uid"] as? String, "../../sop\"x")
        XCTAssertEqual(results.first?["source_path"] as? String, evil)
        for key in ["head", "probability", "calibrated_probability", "decision"] { XCTAssertNotNil(results.first?[key], key) }
    }
}

/// The study SR passes DCMTK's dsrdump and dicom3tools' dciodvfy, and pydicom reads the same values back.
final class StructuredReportTests: XCTestCase {
    func testStudySRIsValidAndReadsBack() throws {
        let repo = ScoringTests.repo
        guard FileManager.default.fileExists(atPath: repo.appendingPathComponent("models/xception-pneumonia/model.json").path) else {
            XCTFail("run `make setup` first")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-sr-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
        let source = repo.appendingPathComponent("studies/rg1/RG1_UNCI.dcm").path
        try FileManager.default.copyItem(atPath: source, toPath: dir.appendingPathComponent("in/rg1.dcm").path)
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 1).run(paths: [dir.appendingPathComponent("in").path])
        let head = try ScoreJob.Head(classifier: Classifier(directory: repo.appendingPathComponent("models/xception-pneumonia").path))
        XCTAssertEqual(try ScoreJob(database: db, heads: [head], options: ScoreJob.Options()).run().scored, 1)
        let out = dir.appendingPathComponent("reports").path
        _ = try ReportWriter(database: db, output: out, version: "test").write()
        let folder = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: out).first { $0 != "index.html" })
        let sr = "\(out)/\(folder)/sr.dcm"

        let (dump, dumpText) = try ExternalTool.run("/usr/bin/dsrdump", ["-v", sr])
        XCTAssertEqual(dump, 0, dumpText)
        XCTAssertFalse(dumpText.contains("E: "), dumpText)
        let (_, verify) = try ExternalTool.run("/usr/bin/dciodvfy", [sr])
        XCTAssertFalse(verify.split(separator: "\n").contains { $0.hasPrefix("Error") }, verify)

        let (status, json) = try ExternalTool.run(repo.appendingPathComponent(".venv/bin/python").path,
                                     [repo.appendingPathComponent("scripts/read_sr.py").path, sr])
        XCTAssertEqual(status, 0, json)
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        let original = try Instance(file: DicomFile(path: source))
        XCTAssertEqual(object["sop_class_uid"] as? String, "1.2.840.10008.5.1.4.1.1.88.33")
        XCTAssertEqual(object["modality"] as? String, "SR")
        XCTAssertEqual(object["study_instance_uid"] as? String, original.studyInstanceUID)
        XCTAssertEqual(object["patient_id"] as? String, original.patientID)
        let groups = try XCTUnwrap(object["groups"] as? [[String: Any]])
        XCTAssertEqual(groups.count, 1)
        let stored = try db.queue.read { try Row.fetchOne($0, sql: "SELECT probability, decision FROM results WHERE head = 'pneumonia'")! }
        XCTAssertEqual(groups[0]["Probability of finding"] as? Double ?? -1, stored["probability"] as Double, accuracy: 1e-6)
        XCTAssertEqual(groups[0]["Finding"] as? String, "Pneumonia")
        XCTAssertEqual(groups[0]["Pneumonia"] as? String, (stored["decision"] as String) == "PNEUMONIA" ? "Present" : "Absent")
        XCTAssertEqual(object["series_number"] as? String, "9901")
        // Derived identity: reporting the same results again (elsewhere) gives the same UIDs.
        _ = try ReportWriter(database: db, output: out + "-again", version: "test").write()
        let (_, again) = try ExternalTool.run(repo.appendingPathComponent(".venv/bin/python").path,
                                 [repo.appendingPathComponent("scripts/read_sr.py").path, "\(out)-again/\(folder)/sr.dcm"])
        let second = try JSONSerialization.jsonObject(with: Data(again.utf8)) as! [String: Any]
        XCTAssertEqual(second["sop_instance_uid"] as? String, object["sop_instance_uid"] as? String)
        XCTAssertEqual(second["series_instance_uid"] as? String, object["series_instance_uid"] as? String)
        XCTAssertTrue((object["sop_instance_uid"] as? String ?? "").hasPrefix("2.25."))
        XCTAssertNotEqual(object["series_instance_uid"] as? String, original.seriesInstanceUID)
        XCTAssertEqual(groups[0]["Source of Measurement"] as? String, original.sopInstanceUID)
        XCTAssertEqual(groups[0]["Algorithm Name"] as? String, "xception-pneumonia")
    }
}
