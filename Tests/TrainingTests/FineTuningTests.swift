import Engine
import Foundation
import Models
import Store
@testable import Training
import XCTest

/// `--unfreeze K`: the trainable tail's gradients against finite differences, the tail reproducing
/// the backbone exactly before training, and a fine-tuning run on the real chest X-rays that
/// converges, is reproducible bit for bit, and is scored by the loaded model exactly as trained.
final class FineTuningTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    func path(_ relative: String) -> String { Self.repo.appendingPathComponent(relative).path }

    /// A small tree with every kind of node the backbones use: residual with and without a
    /// shortcut, separable, depthwise and strided convolutions, a standalone activation, pooling
    /// (average: finite differences of max pooling switch winners; its gradient is checked on
    /// well-separated inputs in EngineTests).
    func smallTail(_ g: inout SplitMix64) -> [Layer] {
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in g.normal() * 0.5 } }
        let c = 4
        let inverted = Residual(Sequential([
            Conv2D(weights: values(8 * c), bias: values(8), outChannels: 8, inChannels: c, kernel: (1, 1), padding: .fixed(.none)),
            DepthwiseConv2D(weights: values(8 * 9), bias: values(8), channels: 8, kernel: 3, padding: .same),
            Conv2D(weights: values(c * 8), bias: values(c), outChannels: c, inChannels: 8, kernel: (1, 1), padding: .fixed(.none)),
        ]))
        let entry = Residual(Sequential([
            ActivationLayer(.identity),
            SeparableConv2D(depthwise: values(c * 9), pointwise: values(6 * c), inChannels: c, outChannels: 6, kernel: 3,
                            padding: .same, batchNorm: nil),
            AvgPool2D(kernel: 3, stride: 2, padding: .same),
        ]), shortcut: Conv2D(weights: values(6 * c), bias: values(6), outChannels: 6, inChannels: c, kernel: (1, 1), stride: 2,
                             padding: .same))
        let last = Conv2D(weights: values(5 * 6 * 9), bias: values(5), outChannels: 5, inChannels: 6, kernel: (3, 3), stride: 2,
                          padding: .fixed(.symmetric(1)))
        return [inverted, entry, last]
    }

    func testTailGradientsMatchFiniteDifferences() throws {
        var g = SplitMix64(seed: 9)
        let tail = try TrainableTail(smallTail(&g))
        let params = tail.initialParameters
        let x = Tensor(shape: [2, 7, 6, 4], data: (0..<(2 * 7 * 6 * 4)).map { _ in g.normal() }, layout: .nhwc)
        let y = tail.forward(x, params)
        let r = (0..<y.count).map { _ in g.normal() }
        func loss(_ p: [[Float]]) -> Double { zip(tail.forward(x, p).data, r).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        _ = tail.forward(x, params)
        let grads = tail.backward(Tensor(shape: y.shape, data: r, layout: .nhwc), params)
        XCTAssertEqual(grads.count, 14, "7 convolutions, weights and bias each")
        var worst: Float = 0, where_ = ""
        for t in params.indices {
            for i in stride(from: 0, to: params[t].count, by: max(1, params[t].count / 12)) {
                var plus = params, minus = params
                plus[t][i] += 1e-2
                minus[t][i] -= 1e-2
                let numeric = Float((loss(plus) - loss(minus)) / 2e-2)
                let err = abs(numeric - grads[t][i]) / max(1, abs(numeric))
                if err > worst { worst = err; where_ = "tensor \(t) index \(i): \(numeric) vs \(grads[t][i])" }
            }
        }
        XCTAssertLessThan(worst, 1e-2, where_)
    }

    func testTailReproducesTheBackboneAndReloadsItsTensors() throws {
        let backbone = try Classifier(directory: path("models/mobilenet-v2"))
        let features = backbone.features
        let start = try TrainedHead.tailStart(features, unfrozen: 2, file: "test")
        XCTAssertEqual(start, features.layers.count - 2)
        var g = SplitMix64(seed: 3)
        let input = Tensor(shape: [2, 3, 224, 224], data: (0..<(2 * 3 * 224 * 224)).map { _ in g.normal() })
        let cut = Sequential(Array(features.layers[..<start])).forward(input, .default)
        let tail = try TrainableTail(Array(features.layers[start...]))
        let want = features.forward(input, .default)
        XCTAssertLessThan(maxDiff(tail.forward(cut, tail.initialParameters).data, want.data), 1e-5)
        // Changed tensors go through LayerParameters into inference layers unchanged.
        let changed = tail.initialParameters.map { $0.map { $0 * 0.5 } }
        let rebuilt = Sequential(Array(features.layers[..<start]) + tail.layers(changed))
        XCTAssertLessThan(maxDiff(rebuilt.forward(input, .default).data, tail.forward(cut, changed).data), 1e-5)
        XCTAssertThrowsError(try TrainedHead.tailStart(features, unfrozen: features.layers.count, file: "test"))
    }

    func testFineTuningConvergesIsReproducibleAndScoresAsTrained() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-finetune-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let models = dir.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: models.appendingPathComponent("mobilenet-v2").path,
                                                   withDestinationPath: path("models/mobilenet-v2"))
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 2).run(paths: [path("studies/chest")])
        let labelsPath = try chestLabels(in: dir)

        func options(_ out: String) -> TrainingRun.Options {
            var o = TrainingRun.Options()
            o.head = "tuned"
            o.classes = ["NORMAL", "PNEUMONIA"]
            o.backbone = "mobilenet-v2"
            o.backboneDirectory = models.appendingPathComponent("mobilenet-v2").path
            o.output = models.appendingPathComponent(out).path
            o.cacheDirectory = dir.appendingPathComponent("features").path
            o.hyper.epochs = 6
            o.hyper.batch = 8
            o.hyper.unfreeze = 2
            o.hyper.seed = 5
            return o
        }
        let labels = try LabelsFile(path: labelsPath)
        let first = try TrainJob(database: db, labels: labels, options: options("a")).run { _ in }
        _ = try TrainJob(database: db, labels: labels, options: options("b")).run { _ in }
        let curve = first.result.curve
        XCTAssertLessThan(curve.last!.trainLoss, curve[0].trainLoss * 0.5, "training loss falls")
        XCTAssertEqual(first.result.tail.count, 8, "features.17 (expand, depthwise, project) and features.18: weights and bias each")
        let a = try Data(contentsOf: models.appendingPathComponent("a/head.safetensors"))
        XCTAssertEqual(a, try Data(contentsOf: models.appendingPathComponent("b/head.safetensors")), "same seed, same weights")
        let start = try Classifier(directory: path("models/mobilenet-v2")).features.layers.count - 2
        XCTAssertNotEqual(first.result.tail, try TrainableTail(Array(Classifier(directory: path("models/mobilenet-v2")).features.layers[start...])).initialParameters,
                          "the unfrozen blocks changed")
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: models.appendingPathComponent("a/model.json"))) as! [String: Any]
        XCTAssertEqual(card["unfrozen_blocks"] as? Int, 2)

        // The stored standardisation is the retrained blocks' own: refitted to their pooled outputs
        // on the training images (augmented copies included), not the original blocks'.
        var split = try Labels.cohort(labels, database: db, classes: ["NORMAL", "PNEUMONIA"])
        split.splitByPatient(validation: 0.2, seed: 5)
        let trainExamples = split.examples(.train), validationExamples = split.examples(.val)
        let all = trainExamples + validationExamples
        let backboneForMaps = try Classifier(directory: path("models/mobilenet-v2"))
        let mapsInputs = TrainingInputs(examples: all, backbone: backboneForMaps,
                                        extractor: FeatureExtractor(backbone: backboneForMaps, cacheDirectory: dir.appendingPathComponent("features").path,
                                                                    augmentation: Augmentation()), log: { _ in })
        let (tailOfA, sets) = try mapsInputs.tail(unfreeze: 2)
        let trainSet = try sets.make(Array(trainExamples.indices), augmented: true)
        let retrained = try Standardisation.fit(TailAndHead.embeddings(tailOfA, first.result.tail, trainSet, batch: 8))
        let original = try Standardisation.fit(TailAndHead.embeddings(tailOfA, tailOfA.initialParameters, trainSet, batch: 8))
        func gap(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-3) }.max()! }
        XCTAssertLessThan(gap(first.result.head.mean, retrained.mean), 1e-3, "mean of the retrained blocks' outputs")
        XCTAssertLessThan(gap(first.result.head.scale, retrained.scale), 1e-3, "scale of the retrained blocks' outputs")
        XCTAssertGreaterThan(gap(first.result.head.mean, original.mean), 1e-2, "the original blocks' statistics are not what is stored")

        // The loaded model (backbone + stored blocks + head) gives the probabilities training saw.
        let loaded = try Classifier(directory: models.appendingPathComponent("a").path)
        let cohort = try Labels.cohort(labels, database: db, classes: ["NORMAL", "PNEUMONIA"])
        let example = cohort.examples[0]
        let extractor = FeatureExtractor(backbone: try Classifier(directory: path("models/mobilenet-v2")),
                                         cacheDirectory: dir.appendingPathComponent("features").path, augmentation: Augmentation())
        let inputs = TrainingInputs(examples: [example], backbone: extractor.backbone, extractor: extractor, log: { _ in })
        let trained = try inputs.logits(first.result, first.hyper, of: [0])[0]
        let image = try Models.InputLoader.prepare(Models.InputLoader.rgb8(example.instance.path), for: loaded.card)
        let logits = loaded.logits(Tensor(shape: [1, 3, 224, 224], data: image)).data
        XCTAssertLessThan(maxDiff(logits, trained), 1e-3, "loaded \(logits) vs trained \(trained)")
    }

    func testSearchTriesUnfrozenBlockCounts() throws {
        let grid = HyperparameterSearch(method: "grid", trials: 0, folds: 3, unfreezeChoices: [0, 2]).configurations(base: .init())
        XCTAssertEqual(grid.count, 2 * 2 * 4 * 3 + 1, "linear and mlp × K {0, 2} × 4 rates × 3 decays, plus one prototype")
        XCTAssertEqual(Set(grid.map(\.unfreeze)), [0, 2])
        XCTAssertTrue(grid.filter { $0.head == "prototype" }.allSatisfy { $0.unfreeze == 0 })
        let onlyTwo = HyperparameterSearch(method: "grid", trials: 0, folds: 3, unfreezeChoices: [2]).configurations(base: .init())
        XCTAssertTrue(onlyTwo.allSatisfy { $0.unfreeze == 2 && $0.head != "prototype" })

        // A cross-validated search whose trials fine-tune the last block, folds by patient.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-search-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let db = try IndexDatabase(path: dir.appendingPathComponent("x.sqlite").path)
        _ = try IngestJob(database: db, jobs: 2).run(paths: [path("studies/chest")])
        let labelsPath = try chestLabels(in: dir)
        var o = TrainingRun.Options()
        o.head = "searched"
        o.classes = ["NORMAL", "PNEUMONIA"]
        o.backbone = "mobilenet-v2"
        o.backboneDirectory = path("models/\(o.backbone)")
        o.output = dir.appendingPathComponent("searched").path
        o.cacheDirectory = dir.appendingPathComponent("features").path
        o.hyper.epochs = 3
        o.hyper.batch = 8
        o.search = HyperparameterSearch(method: "random", trials: 2, folds: 2, unfreezeChoices: [1])
        let outcome = try TrainJob(database: db, labels: LabelsFile(path: labelsPath), options: o)
            .run { _ in }
        XCTAssertEqual(outcome.trials.count, 2)
        XCTAssertTrue(outcome.trials.allSatisfy { $0.hyper.unfreeze == 1 && $0.foldLosses.count == 2 })
        XCTAssertEqual(outcome.hyper.unfreeze, 1)
        XCTAssertEqual(outcome.result.tail.count, 2, "features.18: weights and bias")
        let card = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("searched/model.json"))) as! [String: Any]
        let trials = ((card["training"] as? [String: Any])?["search"] as? [String: Any])?["trials"] as? [[String: Any]]
        XCTAssertEqual(trials?.compactMap { $0["unfreeze"] as? Int }, [1, 1])
    }

    /// labels.csv in `dir`: the 16 chest X-rays labelled from their file names.
    func chestLabels(in dir: URL) throws -> String {
        var csv = "path,label\n"
        for name in try FileManager.default.contentsOfDirectory(atPath: path("studies/chest")).sorted() {
            csv += "\(path("studies/chest/\(name)")),\(name.hasPrefix("NORMAL") ? "NORMAL" : "PNEUMONIA")\n"
        }
        let file = dir.appendingPathComponent("labels.csv").path
        try csv.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }
}
import Pipeline
