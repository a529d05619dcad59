import Foundation
import XCTest

/// `dxkit classify` as a user runs it: DICOM, JPEG and PNG inputs, JSON lines, errors.
final class ClassifyCLITests: XCTestCase {
    struct Reference: Decodable {
        struct Image: Decodable { let image: String; let probabilities: [Double] }
        struct Pneumonia: Decodable { let images: [Image] }
        let pneumonia: Pneumonia
    }

    func requireModels() throws {
        guard FileManager.default.fileExists(atPath: CLI.repo.appendingPathComponent("models/xception-pneumonia/model.json").path) else {
            XCTFail("models missing: run `make setup`")
            throw XCTSkip("no models")
        }
    }

    func lines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    func testPneumoniaJSONOnDicomAndJPEGMatchesKeras() throws {
        try requireModels()
        let refURL = CLI.repo.appendingPathComponent("Tests/ModelsTests/Fixtures/reference-outputs.json")
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: refURL)).pneumonia.images
        let names = ["NORMAL2-IM-1427-0001", "person1946_bacteria_4874"]
        let jpegDir = "pneumonia-model-package/pneumonia_model_package/datasets/pneumonia-data/val"
        let files = names.map { CLI.repo.appendingPathComponent("studies/chest/\($0).dcm").path }
            + names.map { CLI.data("\(jpegDir)/\($0).jpeg") }
        let r = try CLI.run(["classify", "--json", "--models-dir", CLI.repo.appendingPathComponent("models").path] + files)
        XCTAssertEqual(r.status, 0, r.stderr)
        let objects = try lines(r.stdout)
        XCTAssertEqual(objects.count, 4)
        for (i, object) in objects.enumerated() {
            XCTAssertEqual(object["file"] as? String, files[i])
            XCTAssertEqual(object["model"] as? String, "pneumonia")
            let p = try XCTUnwrap(object["probabilities"] as? [String: Double])
            let expected = try XCTUnwrap(reference.first { $0.image == names[i % 2] }).probabilities
            XCTAssertEqual(p["NORMAL"] ?? -1, expected[0], accuracy: 1e-4, files[i])
            XCTAssertEqual(p["PNEUMONIA"] ?? -1, expected[1], accuracy: 1e-4, files[i])
        }
    }

    func testImageNetTopKAndErrors() throws {
        try requireModels()
        let png = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: png) }
        XCTAssertEqual(try CLI.run(["export-png", CLI.repo.appendingPathComponent("studies/rg1/RG1_UNCI.dcm").path,
                                    "--out", png]).status, 0)
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-\(UUID().uuidString).txt").path
        try "not an image".write(toFile: text, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: text) }
        let r = try CLI.run(["classify", "--model", "mobilenet-v2", "--top", "3", "--json",
                             "--models-dir", CLI.repo.appendingPathComponent("models").path, png, text])
        XCTAssertEqual(r.status, 1, "one file failed")
        let objects = try lines(r.stdout)
        XCTAssertEqual(objects.count, 2)
        let top = try XCTUnwrap(objects[0]["top"] as? [[String: Any]])
        XCTAssertEqual(top.count, 3)
        for entry in top {
            XCTAssertNotNil(entry["index"] as? Int)
            XCTAssertFalse((entry["label"] as? String ?? "").isEmpty)
            XCTAssertNotNil(entry["logit"] as? Double)
        }
        let probabilities = top.compactMap { $0["probability"] as? Double }
        XCTAssertEqual(probabilities, probabilities.sorted(by: >))
        XCTAssertTrue((objects[1]["error"] as? String ?? "").contains(text), "error names the file")
        let unknown = try CLI.run(["classify", "--model", "resnet", png])
        XCTAssertEqual(unknown.status, 2)
    }
}

/// `dxkit metrics --json` on a CSV from any model: the contract keys, values equal to scikit-learn's.
final class MetricsCLITests: XCTestCase {
    func testMetricsJSONCarriesTheContractKeys() throws {
        let fixtures = CLI.repo.appendingPathComponent("Tests/EvaluationTests/Fixtures")
        let r = try CLI.run(["metrics", "--csv", fixtures.appendingPathComponent("scores.csv").path, "--score-col", "score",
                             "--label-col", "label", "--group-col", "sex", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        for key in ["n", "prevalence", "auroc", "auroc_ci", "auprc", "brier", "log_loss", "ece", "mce", "sensitivity",
                    "specificity", "ppv", "npv", "f1", "accuracy", "selection_rate", "temperature", "groups",
                    "demographic_parity_difference", "equalized_odds_difference"] {
            XCTAssertNotNil(got[key], key)
        }
        let oracle = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("metrics-oracle.json"))) as! [String: Any]
        let want = oracle["scores_csv"] as! [String: Any]
        XCTAssertEqual(got["auroc"] as! Double, want["auroc"] as! Double, accuracy: 1e-9)
        XCTAssertEqual(got["equalized_odds_difference"] as! Double, want["equalized_odds_difference"] as! Double, accuracy: 1e-9)
        let audit = try XCTUnwrap((got["audit"] as? [String: Any])?["by"] as? [String: [String: Any]])
        let disparities = try XCTUnwrap(audit["sex"]?["disparities"] as? [String: [String: Any]])
        XCTAssertFalse(disparities.isEmpty, "the subgroup audit runs on any CSV")
        for (_, metrics) in disparities { XCTAssertNotNil((metrics["tpr"] as? [String: Any])?["verdict"]) }
        let bad = try CLI.run(["metrics", "--csv", "/nonexistent.csv", "--score-col", "s", "--label-col", "l"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("/nonexistent.csv"))
    }
}
