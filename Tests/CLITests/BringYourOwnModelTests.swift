import Foundation
import XCTest

/// Issue 18's user story, end to end through the binary: a PyTorch chest X-ray model with 18
/// findings (TorchXRayVision's DenseNet, seeded weights, exported to ONNX by
/// scripts/onnx_test_models.py) is imported with the user's card (routing to chest radiographs,
/// TorchXRayVision's preprocessing: grey, shorter side 224, centre crop, [-1024, 1024]), then
/// `dxkit run` on chest studies gives one row per finding whose probability is the sigmoid of ONNX
/// Runtime's logit for that image, per-finding study results, and an SR with one coded finding
/// per label.
final class BringYourOwnModelTests: XCTestCase {
    static let findings = ["Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
                           "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
                           "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum"]

    func testImportedMultiLabelChestModelRunsToReportsAndSR() throws {
        let onnx = CLI.repo.appendingPathComponent(".cache/onnx-tests").path
        let manifestPath = "\(onnx)/manifest.json"
        guard FileManager.default.fileExists(atPath: manifestPath) else { return XCTFail("\(manifestPath) missing: run `make setup`") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-byom-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let models = dir.appendingPathComponent("models").path, input = dir.appendingPathComponent("in").path
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)

        // The user's card: routing, aggregation, and a SNOMED code and threshold for one finding.
        let card: [String: Any] = [
            "scoring": ["routing": ["accept_any": [["modality": ["CR", "DX"], "body_part": ["CHEST"]]]],
                        "aggregation": ["rule": "max"],
                        "findings": [["name": "Pneumonia", "threshold": 0.6,
                                      "code": ["value": "233604007", "scheme": "SCT", "meaning": "Pneumonia"]]]],
            "license": "test", "intended_use": "test only", "warning": "Seeded random weights: not a diagnostic model."]
        let cardPath = dir.appendingPathComponent("card.json").path
        try JSONSerialization.data(withJSONObject: card).write(to: URL(fileURLWithPath: cardPath))
        let imported = try CLI.run(["import-model", "\(onnx)/xrv-densenet121-opset17.onnx", "--name", "xrv", "--card", cardPath,
                                    "--multilabel", "--labels", Self.findings.joined(separator: ","), "--channels", "1",
                                    "--mean", "0.5", "--std", "0.00048828125", "--resize", "shorter-224-crop-224", "--out", models])
        XCTAssertEqual(imported.status, 0, imported.stderr)

        // Four chest studies; ONNX Runtime's logits for the same images (rows in the manifest's order).
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifestPath))) as! [String: Any]
        let names = (manifest["images"] as! [[String: Any]]).map { $0["name"] as! String }
        let ort = try Data(contentsOf: URL(fileURLWithPath: "\(onnx)/xrv-densenet121-opset17.ort.f32")).withUnsafeBytes {
            Array($0.bindMemory(to: Float.self))
        }
        XCTAssertEqual(ort.count, names.count * Self.findings.count)
        let chosen = ["NORMAL2-IM-1427-0001", "NORMAL2-IM-1431-0001", "person1946_bacteria_4874", "person1952_bacteria_4883"]
            .filter { names.contains($0) }
        XCTAssertEqual(chosen.count, 4, "images of the manifest: \(names)")
        for name in chosen {
            try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/\(name).dcm").path,
                                             toPath: "\(input)/\(name).dcm")
        }
        let out = dir.appendingPathComponent("reports").path
        let run = try CLI.run(["run", input, "--out", out, "--models-dir", models])
        XCTAssertEqual(run.status, 0, run.stderr)

        let folders = try FileManager.default.contentsOfDirectory(atPath: out).filter {
            FileManager.default.fileExists(atPath: "\(out)/\($0)/result.json")
        }
        XCTAssertEqual(folders.count, 4, "one folder per study")
        var compared = 0
        for folder in folders {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/\(folder)/result.json"))) as! [String: Any]
            let rows = (json["results"] as! [[String: Any]]).filter { $0["head"] as? String == "xrv" && $0["status"] as? String == "scored" }
            XCTAssertEqual(rows.compactMap { $0["finding"] as? String }.sorted(), Self.findings.sorted(), "one row per finding")
            for row in rows {
                let source = URL(fileURLWithPath: row["source_path"] as! String).deletingPathExtension().lastPathComponent
                let image = try XCTUnwrap(names.firstIndex(of: source)), finding = Self.findings.firstIndex(of: row["finding"] as! String)!
                let expected = 1 / (1 + exp(-Double(ort[image * Self.findings.count + finding])))
                let p = row["probability"] as! Double
                XCTAssertEqual(p, expected, accuracy: 1e-4, "\(source) \(row["finding"]!)")
                let threshold = row["finding"] as? String == "Pneumonia" ? 0.6 : 0.5
                XCTAssertEqual(row["threshold"] as? Double, threshold)
                XCTAssertEqual(row["decision"] as? String, p >= threshold ? "present" : "absent")
                compared += 1
            }
            let study = (json["study_results"] as! [[String: Any]]).filter { $0["head"] as? String == "xrv" }
            XCTAssertEqual(study.count, Self.findings.count, "study results per finding")

            // The SR: one coded finding per label, Pneumonia under the card's SNOMED code.
            let python = CLI.repo.appendingPathComponent(".venv/bin/python").path
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = [CLI.repo.appendingPathComponent("scripts/read_sr.py").path, "\(out)/\(folder)/sr.dcm"]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let text = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
            let sr = try JSONSerialization.jsonObject(with: text) as! [String: Any]
            let groups = sr["groups"] as! [[String: Any]]
            XCTAssertEqual(groups.count, Self.findings.count, "one coded finding per label")
            let pneumonia = groups.first { $0["Finding"] as? String == "Pneumonia" }
            XCTAssertEqual(pneumonia?["Finding code"] as? String, "SCT 233604007")
        }
        XCTAssertEqual(compared, 4 * Self.findings.count)
    }
}
