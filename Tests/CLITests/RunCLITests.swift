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
        for name in chest.prefix(4) + chest.suffix(4) {  // four normal, four pneumonia
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
            // The decided class's map; the positive class's too when the decision is negative.
            let decision = results[0]["decision"] as? String
            XCTAssertEqual(images.count, decision == "NORMAL" ? 2 : 1, "heatmaps copied next to the report: \(images)")
            XCTAssertTrue(images.contains { $0.hasSuffix("-\(decision ?? "?").png") }, "\(images)")
        }
    }

    func testCalibrateStoresAndRecalibratesExistingResults() throws {
        let db = dir.appendingPathComponent("c.sqlite").path
        let input = dir.appendingPathComponent("in").path
        XCTAssertEqual(try CLI.run(["ingest", input, "--db", db]).status, 0)
        XCTAssertEqual(try CLI.run(["score", "--db", db, "--models-dir", models, "--heads", "pneumonia"]).status, 0)
        var csv = "path,label\n"
        for name in try FileManager.default.contentsOfDirectory(atPath: input).sorted() {
            csv += "\(input)/\(name),\(name.hasPrefix("NORMAL") ? 0 : 1)\n"
        }
        let labels = dir.appendingPathComponent("labels.csv").path
        try csv.write(toFile: labels, atomically: true, encoding: .utf8)
        let fit = try CLI.run(["calibrate", "--db", db, "--labels", labels, "--head", "pneumonia", "--method", "platt",
                               "--youden", "--models-dir", models, "--out", dir.appendingPathComponent("cal").path])
        XCTAssertEqual(fit.status, 0, fit.stderr)
        XCTAssertTrue(fit.stdout.contains("before") && fit.stdout.contains("after"), fit.stdout)
        let page = try String(contentsOfFile: dir.appendingPathComponent("cal/calibration-pneumonia.html").path, encoding: .utf8)
        XCTAssertTrue(page.contains("reliability diagram") && page.contains("<polyline"))
        let redo = try CLI.run(["recalibrate-results", "--db", db, "--head", "pneumonia", "--models-dir", models])
        XCTAssertEqual(redo.status, 0, redo.stderr)
        XCTAssertTrue(redo.stdout.contains("recalibrated 8 pneumonia results"), redo.stdout)
        var config = Configuration()
        config.readonly = true
        try DatabaseQueue(path: db, configuration: config).read { db in
            let stored = try XCTUnwrap(try Row.fetchOne(db, sql: "SELECT * FROM calibrations WHERE active = 1"))
            XCTAssertEqual(stored["method"] as String, "platt")
            XCTAssertEqual(stored["n"] as Int, 8)
            let threshold: Double = stored["threshold"]
            let rows = try Row.fetchAll(db, sql: "SELECT probability, calibrated_probability, decision, threshold FROM results WHERE head = 'pneumonia'")
            XCTAssertEqual(rows.count, 8)
            var changed = 0
            for r in rows {
                let p: Double = r["probability"], c: Double = r["calibrated_probability"]
                if abs(p - c) > 1e-9 { changed += 1 }
                XCTAssertEqual(r["threshold"] as Double, threshold)
                XCTAssertEqual(r["decision"] as String, c >= threshold ? "PNEUMONIA" : "NORMAL")
            }
            XCTAssertGreaterThan(changed, 0, "calibrated probabilities differ from raw ones")
        }
    }

    /// An audit on a cohort built from the real chest images with assigned demographics: stored in the
    /// index, and per group the numbers recomputed here from the stored results and labels.
    func testAuditOnAssignedDemographicsStoresTheExpectedNumbers() throws {
        let input = dir.appendingPathComponent("in").path
        let names = try FileManager.default.contentsOfDirectory(atPath: input).sorted()
        for (i, name) in names.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/dcmodify")
            p.arguments = ["-nb", "-i", "(0010,0040)=\(i % 2 == 0 ? "F" : "M")", "-i", "(0010,1010)=0\(30 + 10 * i)Y",
                           "-i", "(0008,0070)=Vendor \(i < 4 ? "A" : "B")", "\(input)/\(name)"]
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
        }
        let db = dir.appendingPathComponent("a.sqlite").path
        XCTAssertEqual(try CLI.run(["ingest", input, "--db", db]).status, 0)
        XCTAssertEqual(try CLI.run(["score", "--db", db, "--models-dir", models, "--heads", "pneumonia"]).status, 0)
        var csv = "path,label,site\n"
        for (i, name) in names.enumerated() { csv += "\(input)/\(name),\(name.hasPrefix("NORMAL") ? 0 : 1),\(i % 3 == 0 ? "north" : "south")\n" }
        let labels = dir.appendingPathComponent("labels.csv").path
        try csv.write(toFile: labels, atomically: true, encoding: .utf8)
        let r = try CLI.run(["audit", "--db", db, "--labels", labels, "--head", "pneumonia", "--by", "sex,age_band,manufacturer,site",
                             "--min-size", "2", "--bootstrap", "100", "--intersections", "--json", "--models-dir", models])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let results = object["results"] as! [String: Any]
        XCTAssertEqual(results["n"] as? Int, 8)
        let by = results["by"] as! [String: [String: Any]]
        XCTAssertNotNil(by["sex & manufacturer"], "intersections")
        XCTAssertEqual(Set((by["site"]!["groups"] as! [String: Any]).keys), ["site=north", "site=south"], "groups from a CSV column")
        let sex = by["sex"]!["groups"] as! [String: [String: Any]]
        XCTAssertEqual(Set(sex.keys), ["sex=F", "sex=M"])
        // Recompute TPR and selection rate of sex=F from the stored results.
        var config = Configuration()
        config.readonly = true
        try DatabaseQueue(path: db, configuration: config).read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT i.path, r.calibrated_probability AS p, r.threshold AS t FROM results r JOIN instances i ON i.id = r.instance_ref
                WHERE i.sex = 'F' AND r.head = 'pneumonia'
                """)
            XCTAssertEqual(rows.count, 4)
            let positives = rows.filter { !URL(fileURLWithPath: $0["path"] as String).lastPathComponent.hasPrefix("NORMAL") }
            let tp = positives.filter { ($0["p"] as Double) >= ($0["t"] as Double) }.count
            let selected = rows.filter { ($0["p"] as Double) >= ($0["t"] as Double) }.count
            XCTAssertEqual(sex["sex=F"]!["tpr"] as? Double ?? -1, Double(tp) / Double(positives.count), accuracy: 1e-12)
            XCTAssertEqual(sex["sex=F"]!["selection_rate"] as? Double ?? -1, Double(selected) / 4, accuracy: 1e-12)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM audits"), 1)
        }
        let ages = Set((by["age_band"]!["groups"] as! [String: Any]).keys)
        XCTAssertTrue(ages.isSubset(of: ["age_band=18-40", "age_band=40-65", "age_band=65+"]), "\(ages)")
        let out = dir.appendingPathComponent("audit").path
        let page = try CLI.run(["report", "--db", db, "--audit", "\(object["audit_id"] as! Int)", "--out", out])
        XCTAssertEqual(page.status, 0, page.stderr)
        let html = try String(contentsOfFile: "\(out)/audit-\(object["audit_id"] as! Int).html", encoding: .utf8)
        XCTAssertTrue(html.contains("sex=F") && html.contains("<svg") && html.contains("Vendor A"))
    }

    func testDatasetAuditOfIndexedImagesAndManifest() throws {
        let input = dir.appendingPathComponent("in").path
        let names = try FileManager.default.contentsOfDirectory(atPath: input).sorted()
        for (i, name) in names.enumerated() where i < 3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/dcmodify")
            p.arguments = ["-nb", "-i", "(0010,0040)=F", "\(input)/\(name)"]
            try p.run()
            p.waitUntilExit()
        }
        let db = dir.appendingPathComponent("d.sqlite").path
        XCTAssertEqual(try CLI.run(["ingest", input, "--db", db]).status, 0)
        var csv = "path,label,split\n"
        for (i, name) in names.enumerated() { csv += "\(input)/\(name),\(name.hasPrefix("NORMAL") ? 0 : 1),\(i % 2 == 0 ? "train" : "val")\n" }
        let labels = dir.appendingPathComponent("labels.csv").path
        try csv.write(toFile: labels, atomically: true, encoding: .utf8)
        let r = try CLI.run(["audit-dataset", "--db", db, "--labels", labels, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let results = object["results"] as! [String: Any]
        XCTAssertEqual(results["n"] as? Int, 8)
        let sex = (results["composition"] as! [String: [String: [String: Any]]])["sex"]!
        XCTAssertEqual(sex["F"]?["n"] as? Int, 3)
        XCTAssertEqual(sex["(missing)"]?["n"] as? Int, 5)
        XCTAssertEqual((results["missingness"] as! [String: Double])["sex"]!, 5.0 / 8.0, accuracy: 1e-12)
        XCTAssertNotNil((results["label_prevalence"] as? [String: Any])?["sex"])
        let out = dir.appendingPathComponent("da").path
        XCTAssertEqual(try CLI.run(["report", "--db", db, "--audit", "\(object["audit_id"] as! Int)", "--out", out]).status, 0)
        let html = try String(contentsOfFile: "\(out)/audit-\(object["audit_id"] as! Int).html", encoding: .utf8)
        XCTAssertTrue(html.contains("dataset audit") && html.contains("(missing)"))
        let manifest = CLI.repo.appendingPathComponent("Tests/EvaluationTests/Fixtures/manifest.csv").path
        let m = try CLI.run(["audit-dataset", "--db", db, "--manifest", manifest, "--map", "sex=Gender,label=Finding,split=Split", "--json"])
        XCTAssertEqual(m.status, 0, m.stderr)
        let bad = try CLI.run(["audit-dataset", "--db", db, "--manifest", manifest, "--map", "sex=Geschlecht"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("Geschlecht"), bad.stderr)
    }
}
