import Foundation
import XCTest

/// `dxkit import-model` end to end: the pneumonia network exported to ONNX (by
/// scripts/onnx_test_models.py from the shipped weights) imported with a scoring card, then
/// `classify` (probabilities as the shipped model's) and `dxkit run` on a copy of studies/chest;
/// a multi-label import writes the agreed card; bad cards and unsupported graphs are refused.
final class ImportModelCLITests: XCTestCase {
    var dir: URL!
    let onnx = CLI.repo.appendingPathComponent(".cache/onnx-tests").path

    override func setUpWithError() throws {
        for needed in ["models/xception-pneumonia/model.json", ".cache/onnx-tests/manifest.json"]
        where !FileManager.default.fileExists(atPath: CLI.repo.appendingPathComponent(needed).path) {
            XCTFail("\(needed) missing: run `make setup`")
            throw XCTSkip("no setup")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("models"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    var models: String { dir.appendingPathComponent("models").path }

    /// The shipped pneumonia card's scoring, as a user would write it.
    func writeCard() throws -> String {
        let shipped = try JSONSerialization.jsonObject(with: Data(contentsOf: CLI.repo.appendingPathComponent("models/xception-pneumonia/model.json"))) as! [String: Any]
        let card: [String: Any] = ["scoring": shipped["scoring"]!, "license": "test", "intended_use": "import test only",
                                   "warning": "Imported for a test."]
        let path = dir.appendingPathComponent("card.json").path
        try JSONSerialization.data(withJSONObject: card).write(to: URL(fileURLWithPath: path))
        return path
    }

    func importPneumonia() throws {
        let r = try CLI.run(["import-model", "\(onnx)/pneumonia-opset13.onnx", "--name", "onnx-pneumonia", "--card", try writeCard(),
                             "--labels", "NORMAL,PNEUMONIA", "--input", "150x150", "--channels", "3", "--mean", "0.5", "--std", "0.5",
                             "--resize", "nearest", "--out", models])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("opset 13"), r.stdout)
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(models)/onnx-pneumonia/model.json"))) as! [String: Any]
        XCTAssertEqual(card["architecture"] as? String, "onnx-graph")
        XCTAssertEqual(card["head"] as? String, "onnx-pneumonia")
        XCTAssertEqual((card["provenance"] as? [String: Any])?["file_sha256"] as? String, try sha256("\(onnx)/pneumonia-opset13.onnx"))
    }

    func sha256(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return String(text.prefix(64))
    }

    func testImportedModelClassifiesAsTheShippedOne() throws {
        try importPneumonia()
        let file = CLI.repo.appendingPathComponent("studies/chest/NORMAL2-IM-1427-0001.dcm").path
        let imported = try CLI.run(["classify", "--model", "onnx-pneumonia", "--models-dir", models, "--json", file])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let shipped = try CLI.run(["classify", "--model", "pneumonia", "--models-dir", CLI.repo.appendingPathComponent("models").path, "--json", file])
        XCTAssertEqual(shipped.status, 0, shipped.stderr)
        func probabilities(_ s: String) throws -> [String: Double] {
            let o = try JSONSerialization.jsonObject(with: Data(s.utf8)) as! [String: Any]
            return o["probabilities"] as! [String: Double]
        }
        let a = try probabilities(imported.stdout), b = try probabilities(shipped.stdout)
        XCTAssertEqual(Set(a.keys), ["NORMAL", "PNEUMONIA"])
        for k in a.keys { XCTAssertEqual(a[k]!, b[k]!, accuracy: 1e-4, k) }
    }

    func testImportedHeadRunsOnStudies() throws {
        try importPneumonia()
        let chest = try FileManager.default.contentsOfDirectory(atPath: CLI.repo.appendingPathComponent("studies/chest").path).sorted()
        for name in chest.prefix(2) + chest.suffix(2) {
            try FileManager.default.copyItem(atPath: CLI.repo.appendingPathComponent("studies/chest/\(name)").path,
                                             toPath: dir.appendingPathComponent("in/\(name)").path)
        }
        let out = dir.appendingPathComponent("reports").path
        let r = try CLI.run(["run", dir.appendingPathComponent("in").path, "--out", out, "--models-dir", models])
        XCTAssertEqual(r.status, 0, r.stderr)
        let folders = try FileManager.default.contentsOfDirectory(atPath: out).filter {
            FileManager.default.fileExists(atPath: "\(out)/\($0)/result.json")
        }
        XCTAssertEqual(folders.count, 4, "one folder per study")
        for folder in folders {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/\(folder)/result.json"))) as! [String: Any]
            let results = json["results"] as! [[String: Any]]
            XCTAssertEqual(results.first?["head"] as? String, "onnx-pneumonia")
            let images = (try? FileManager.default.contentsOfDirectory(atPath: "\(out)/\(folder)/images")) ?? []
            XCTAssertTrue(images.contains { $0.hasSuffix("-onnx-pneumonia-PNEUMONIA.png") }, "heatmaps from the imported head: \(images)")
        }
    }

    /// `train --backbone NAME` on an imported model (its graph up to the feature layer, frozen); the
    /// trained head classifies; `--unfreeze` is refused for a graph.
    func testTrainOnImportedBackbone() throws {
        try importPneumonia()
        let chest = CLI.repo.appendingPathComponent("studies/chest").path
        let names = try FileManager.default.contentsOfDirectory(atPath: chest).filter { $0.hasSuffix(".dcm") }.sorted()
        var csv = "path,label\n"
        for name in names { csv += "\(chest)/\(name),\(name.hasPrefix("NORMAL") ? "NORMAL" : "PNEUMONIA")\n" }
        let labels = dir.appendingPathComponent("labels.csv").path
        try csv.write(toFile: labels, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("x.sqlite").path
        XCTAssertEqual(try CLI.run(["ingest", chest, "--db", db]).status, 0)
        let common = ["train", "--db", db, "--labels", labels, "--head", "tuned", "--backbone", "onnx-pneumonia",
                      "--classes", "NORMAL,PNEUMONIA", "--models-dir", models, "--out", "\(models)/tuned",
                      "--cache-dir", dir.appendingPathComponent("features").path, "--epochs", "5", "--validation", "none"]
        let unfrozen = try CLI.run(common + ["--unfreeze", "1"])
        XCTAssertNotEqual(unfrozen.status, 0)
        XCTAssertTrue(unfrozen.stderr.contains("imported graph"), unfrozen.stderr)
        let trained = try CLI.run(common)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("on onnx-pneumonia"), trained.stdout)
        let classified = try CLI.run(["classify", "--model", "tuned", "--models-dir", models, "\(chest)/\(names[0])"])
        XCTAssertEqual(classified.status, 0, classified.stderr)
        XCTAssertTrue(classified.stdout.contains("NORMAL") && classified.stdout.contains("PNEUMONIA"), classified.stdout)
    }

    func testMultilabelImportWritesFindings() throws {
        let card: [String: Any] = ["scoring": ["routing": ["accept_any": [["modality": ["CR", "DX"]]]],
                                               "aggregation": ["rule": "max"],
                                               "findings": [["name": "Effusion", "threshold": 0.3]]]]
        let cardPath = dir.appendingPathComponent("xrv.json").path
        try JSONSerialization.data(withJSONObject: card).write(to: URL(fileURLWithPath: cardPath))
        let names = ["Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis", "Effusion",
                     "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia", "Lung Lesion", "Fracture",
                     "Lung Opacity", "Enlarged Cardiomediastinum"]
        let r = try CLI.run(["import-model", "\(onnx)/xrv-densenet121-opset17.onnx", "--name", "xrv", "--card", cardPath, "--multilabel",
                             "--labels", names.joined(separator: ","), "--mean", "0.5", "--std", "0.00048828125",
                             "--resize", "shorter-224-crop-224", "--out", models])
        XCTAssertEqual(r.status, 0, r.stderr)
        let written = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(models)/xrv/model.json"))) as! [String: Any]
        XCTAssertEqual(written["output"] as? String, "sigmoid")
        let input = written["input"] as! [String: Any]
        XCTAssertEqual(input["channels"] as? Int, 1)
        XCTAssertEqual(input["color"] as? String, "grey")
        let normalization = input["normalization"] as! [String: [Double]]
        XCTAssertEqual(normalization["scale"]![0], 2048.0 / 255, accuracy: 1e-9)
        XCTAssertEqual(normalization["offset"]![0], -1024, accuracy: 1e-9)
        let scoring = written["scoring"] as! [String: Any]
        XCTAssertNil(scoring["positive_class"])
        XCTAssertNil(scoring["threshold"])
        let findings = scoring["findings"] as! [[String: Any]]
        XCTAssertEqual(findings.map { $0["name"] as! String }, names)
        XCTAssertEqual(findings[7]["threshold"] as? Double, 0.3)
        XCTAssertEqual(findings[0]["threshold"] as? Double, 0.5)
        // A one-channel model classifies a grey DICOM and a colour photo (sigmoid per finding).
        let files = [CLI.repo.appendingPathComponent("studies/chest/NORMAL2-IM-1427-0001.dcm").path,
                     CLI.data("scikit-image/skimage/data/chelsea.png")]
        let classified = try CLI.run(["classify", "--model", "xrv", "--models-dir", models, "--json", "--top", "3"] + files)
        XCTAssertEqual(classified.status, 0, classified.stderr)
        XCTAssertEqual(classified.stdout.split(separator: "\n").count, 2, classified.stdout)
        XCTAssertTrue(classified.stdout.contains("Pneumonia") || classified.stdout.contains("Effusion") || classified.stdout.contains("\"label\""),
                      classified.stdout)
    }

    func testBadImportsAreRefused() throws {
        let wrongLabels = try CLI.run(["import-model", "\(onnx)/pneumonia-opset13.onnx", "--name", "x", "--labels", "a,b,c", "--out", models])
        XCTAssertEqual(wrongLabels.status, 2)
        XCTAssertTrue(wrongLabels.stderr.contains("2 outputs") && wrongLabels.stderr.contains("3 class names"), wrongLabels.stderr)
        let unsupported = try CLI.run(["import-model", "\(onnx)/unsupported-erf.onnx", "--name", "x", "--out", models])
        XCTAssertEqual(unsupported.status, 2)
        XCTAssertTrue(unsupported.stderr.contains("gelu_erf") && unsupported.stderr.contains("Erf"), unsupported.stderr)
        let truncated = dir.appendingPathComponent("truncated.onnx").path
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(onnx)/mobilenet-v2-opset13.onnx"))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        let t = try CLI.run(["import-model", truncated, "--name", "x", "--out", models])
        XCTAssertEqual(t.status, 2)
        XCTAssertTrue(t.stderr.contains(truncated), t.stderr)
        let channels = try CLI.run(["import-model", "\(onnx)/xrv-densenet121-opset17.onnx", "--name", "x", "--channels", "3", "--out", models])
        XCTAssertEqual(channels.status, 2)
        XCTAssertTrue(channels.stderr.contains("--channels 3, but the graph takes 1"), channels.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(models)/x"), "nothing written for a refused import")
    }
}
