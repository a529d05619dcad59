import DICOM
import Engine
import Foundation
import Models
import Pipeline
import XCTest

/// A small multi-label head made here, never downloaded: a linear head with seeded weights over
/// mobilenet-v2's pooled features, saved as `dxkit train` saves a head (`head.safetensors` with
/// `input_mean`, `input_scale`, `dense1.weight`, `dense1.bias`, and a `model.json` naming the
/// backbone and its weights sha256), with a sigmoid card in the contract `import-model
/// --multilabel` writes: TorchXRayVision-style classes with an empty placeholder, and
/// `scoring.findings` in another order than the classes, one with a SNOMED CT code, the others
/// private (one name holding HTML, to check escaping). Routing: chest.
enum MultiLabelFixture {
    static let classes = ["Atelectasis", "", "Effusion", "Pneumonia", "Nodule <b>&"]
    /// (name, threshold, code) in the card's order.
    static let findings: [(name: String, threshold: Double, code: [String: String]?)] = [
        ("Pneumonia", 0.5, ["value": "233604007", "scheme": "SCT", "meaning": "Pneumonia"]),
        ("Effusion", 0.4, ["value": "60046008", "scheme": "SCT", "meaning": "Pleural effusion"]),
        ("Nodule <b>&", 0.6, nil),
        ("Atelectasis", 0.55, nil),
    ]
    static let head = "chest-findings"
    static let features = 1280

    /// Seeded weights: W (classes × 1280) and b, uniform from a 64-bit LCG.
    static func weights(seed: UInt64 = 18) -> (w: [Float], b: [Float]) {
        var state = seed
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1
        }
        let w = (0..<(classes.count * features)).map { _ in next() * 0.08 }
        let b: [Float] = [-0.6, 0.1, -0.3, 0.2, -0.1]
        return (w, b)
    }

    /// The card as JSON; `edit` changes it before writing (malformed-card tests).
    static func card(weightsSha: String, backboneSha: String, edit: (inout [String: Any]) -> Void = { _ in }) throws -> Data {
        let base = try ModelCard.load(repo.appendingPathComponent("models/mobilenet-v2/model.json").path)
        let scoring: [String: Any] = [
            "routing": ["accept_any": ModelCatalog.routings["chest"]!.map { $0.mapValues { $0.map { $0 ?? NSNull() as Any } } }],
            "aggregation": ["rule": "max", "description": "study: the highest probability over its images, per finding"],
            "findings": findings.map { f -> [String: Any] in
                var o: [String: Any] = ["name": f.name, "threshold": f.threshold]
                if let code = f.code { o["code"] = code }
                return o
            },
            "procedure_code": ["value": "399208008", "scheme": "SCT", "meaning": "Plain chest X-ray"],
        ]
        var card: [String: Any] = [
            "name": "chest-findings (test)", "head": head, "backbone": "mobilenet-v2", "head_type": "linear",
            "architecture": base.architecture, "batchnorm_epsilon": base.batchnormEpsilon,
            "input": ["height": base.input.height, "width": base.input.width, "channels": base.input.channels, "color": base.input.color,
                      "resize": base.input.resize,
                      "normalization": ["scale": base.input.normalization.scale, "offset": base.input.normalization.offset]],
            "classes": classes, "output": "sigmoid", "weights_sha256": weightsSha, "backbone_weights_sha256": backboneSha,
            "license": "test fixture", "intended_use": "tests only: seeded random weights", "training_data": "none (seeded weights)",
        ]
        card["scoring"] = scoring
        edit(&card)
        return try JSONSerialization.data(withJSONObject: card, options: [.prettyPrinted, .sortedKeys])
    }

    /// A fresh temporary folder (with an `in` subfolder) for one test, after checking that setup
    /// made the backbone the fixture head sits on.
    static func temporaryFolder(_ prefix: String) throws -> URL {
        guard FileManager.default.fileExists(atPath: repo.appendingPathComponent("models/mobilenet-v2/model.json").path) else {
            XCTFail("run `make setup` first")
            throw XCTSkip("no setup")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in"), withIntermediateDirectories: true)
        return dir
    }

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Writes the head into `folder` (created) and returns its directory.
    @discardableResult
    static func write(to folder: String, edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        let directory = "\(folder)/\(head)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (w, b) = weights()
        let weightsPath = "\(directory)/head.safetensors"
        try SafeTensorsWriter.write([("input_mean", [features], [Float](repeating: 0, count: features)),
                                     ("input_scale", [features], [Float](repeating: 1, count: features)),
                                     ("dense1.weight", [classes.count, features], w), ("dense1.bias", [classes.count], b)],
                                    metadata: ["head": head, "backbone": "mobilenet-v2", "unfrozen_blocks": "0"], to: weightsPath)
        let backbone = try ModelCard.load(repo.appendingPathComponent("models/mobilenet-v2/model.json").path)
        try card(weightsSha: try ContentHash.sha256(file: weightsPath), backboneSha: backbone.weightsSha256 ?? "", edit: edit)
            .write(to: URL(fileURLWithPath: "\(directory)/model.json"))
        return directory
    }

    /// The head loaded for scoring (its backbone from the repository's models folder).
    static func loadHead(_ directory: String) throws -> ScoreJob.Head {
        try ScoreJob.Head.load(directory: directory, search: ModelSearch(folders: [repo.appendingPathComponent("models").path]))
    }

    /// The oracle: each class's sigmoid probability for a file, computed here from the backbone's
    /// feature maps (mean over positions, then W·f + b in Double), not by the head's layers.
    static func expected(file: String) throws -> [Double] {
        let backbone = try Classifier(directory: repo.appendingPathComponent("models/mobilenet-v2").path)
        let image = try InputLoader.pixels8(file)
        let input = InputLoader.batch([InputLoader.prepare(image, for: backbone.card)], for: backbone.card)
        let maps = backbone.featuresAndLogits(input).features.toNHWC()  // batch 1
        let channels = features, positions = maps.count / channels
        var pooled = [Double](repeating: 0, count: channels)
        for p in 0..<positions { for c in 0..<channels { pooled[c] += Double(maps.data[p * channels + c]) } }
        pooled = pooled.map { $0 / Double(positions) }
        let (w, b) = weights()
        return (0..<classes.count).map { k in
            var z = Double(b[k])
            for c in 0..<channels { z += Double(w[k * channels + c]) * pooled[c] }
            return 1 / (1 + exp(-z))
        }
    }
}
