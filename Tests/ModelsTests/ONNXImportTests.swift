import Engine
import Foundation
import Models
import XCTest

/// `import-model`'s mapping of ONNX graphs onto the engine against ONNX Runtime: every model of
/// .cache/onnx-tests (torchvision DenseNet-121 and ResNet-50, TorchXRayVision's DenseNet with 18
/// labels on 1 channel, dxkit's three shipped networks; opsets 13 and 17; written by
/// scripts/onnx_test_models.py at setup) imported, loaded as a model folder and run on the stored
/// inputs (16 chest X-rays and 5 photos) under every instruction set: max |Δlogit| ≤ 1e-4 × the
/// logit scale. Missing oracle files fail the test (run `make setup`), never skip it.
final class ONNXImportTests: XCTestCase {
    static let folder = ReferenceOutputs.path(".cache/onnx-tests")

    struct Manifest: Decodable {
        struct Variant: Decodable { let f32: String; let shape: [Int] }
        struct File: Decodable { let opset: Int; let onnx: String; let ort: String; let outputs: [Int]; let logit_scale: Double }
        struct Model: Decodable { let variant: String; let files: [File] }
        let variants: [String: Variant]
        let models: [String: Model]
    }

    static func manifest(file: StaticString = #filePath, line: UInt = #line) throws -> Manifest {
        let path = "\(folder)/manifest.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            XCTFail("\(path) missing: run `make setup` (scripts/setup.sh runs scripts/onnx_test_models.py)", file: file, line: line)
            throw XCTSkip("no ONNX oracle")
        }
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    static func floats(_ name: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)"))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func importAndCompare(_ name: String) throws {
        let manifest = try Self.manifest()
        guard let model = manifest.models[name] else { return XCTFail("\(name) is not in the manifest: run `make setup`") }
        let variant = manifest.variants[model.variant]!
        let input = Tensor(shape: variant.shape, data: try Self.floats(variant.f32))
        XCTAssertEqual(model.files.map(\.opset), name == "zoo" ? [17] : name == "zoo2" ? [13] : [13, 17])
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-import-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        for file in model.files {
            let summary = try ModelImport.run(onnx: "\(Self.folder)/\(file.onnx)", options: .init(name: "\(name)-\(file.opset)"), into: out)
            let classifier = try Classifier(directory: summary.folder)
            XCTAssertEqual(classifier.card.architecture, "onnx-graph")
            let reference = try Self.floats(file.ort)
            XCTAssertEqual(reference.count, file.outputs.reduce(1, *))
            var bits: [ISA: [Float]] = [:]
            for isa in ModelEquivalenceTests.testedISAs {
                let plan = ExecutionPlan.default.with { $0.isa = isa; $0.threads = 2 }
                let logits = classifier.logits(input, plan: plan)
                // A graph's last Softmax is dxkit's to apply (the import keeps logits): compare probabilities then.
                let values = classifier.card.provenance?.finalActivationRemoved == "Softmax"
                    ? classifier.probabilities(logits).flatMap { $0 } : logits.data
                XCTAssertEqual(values.count, reference.count, "\(name) opset \(file.opset): output size")
                guard values.count == reference.count else { return }
                bits[isa] = logits.data
                let worst = zip(values, reference).map { abs(Double($0) - Double($1)) }.max() ?? .infinity
                print("onnx import \(name) opset \(file.opset) (\(isa)): max |Δ| = \(worst), scale \(file.logit_scale), relative \(worst / file.logit_scale)")
                XCTAssertLessThanOrEqual(worst, 1e-4 * max(file.logit_scale, 1), "\(name) opset \(file.opset), \(isa)")
                // An image's logits do not depend on its batch.
                let k = input.count / input.batch, classes = logits.count / input.batch
                let one = Tensor(shape: [1] + Array(input.shape.dropFirst()), data: Array(input.data[0..<k]))
                XCTAssertEqual(classifier.logits(one, plan: plan.with { $0.threads = 1 }).data, Array(logits.data[0..<classes]),
                               "\(name): image 0 alone, \(isa)")
            }
            if let a = bits[.avx512], let b = bits[.avx2] { XCTAssertEqual(a, b, "\(name): AVX2 differs from AVX-512") }
        }
    }

    func testDenseNet121MatchesONNXRuntime() throws { try importAndCompare("densenet121") }
    func testResNet50MatchesONNXRuntime() throws { try importAndCompare("resnet50") }
    func testXRayDenseNet121MatchesONNXRuntime() throws { try importAndCompare("xrv-densenet121") }
    func testMobileNetV2MatchesONNXRuntime() throws { try importAndCompare("mobilenet-v2") }
    func testEfficientNetLite0MatchesONNXRuntime() throws { try importAndCompare("efficientnet-lite0") }
    func testPneumoniaMatchesONNXRuntime() throws { try importAndCompare("pneumonia") }
    /// The operations and attributes the exported networks do not take (see scripts/onnx_test_models.py `zoo`).
    func testOperationZooMatchesONNXRuntime() throws { try importAndCompare("zoo") }
    /// auto_pad, a 1x3 kernel, padding-excluding averages, standalone ReLU, Identity/Dropout/Transpose,
    /// Squeeze/Unsqueeze and a Reshape computed from Shape (see `zoo2`).
    func testOperationZoo2MatchesONNXRuntime() throws { try importAndCompare("zoo2") }

    func testUnsupportedOperationIsRefusedNamingTheNode() throws {
        _ = try Self.manifest()
        let path = "\(Self.folder)/unsupported-erf.onnx"
        XCTAssertThrowsError(try ONNXImporter.read(path: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("gelu_erf") && text.contains("Erf") && text.contains(path), text)
        }
    }

    /// Truncated files and files with bytes flipped are refused (or, where a flip lands in weight
    /// values, imported and run) — never a crash.
    func testDamagedFilesAreRefusedWithoutACrash() throws {
        _ = try Self.manifest()
        let path = "\(Self.folder)/zoo-opset17.onnx"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        for length in [0, 1, 7, 100, data.count / 3, data.count / 2, data.count - 1] {
            XCTAssertThrowsError(try ONNXImporter.read(data: data.prefix(length), file: path), "truncated to \(length)") { error in
                XCTAssertTrue(error is ModelError, "\(error)")
            }
        }
        var generator = SplitMix(seed: 18)
        let image = Tensor(shape: [1, 3, 224, 224], data: (0..<(3 * 224 * 224)).map { _ in Float(generator.next() % 1000) / 500 - 1 })
        var refused = 0, imported = 0
        for _ in 0..<300 {
            var damaged = data
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let at = Int(generator.next() % UInt64(data.count))
                damaged[at] ^= UInt8(1 << (generator.next() % 8))
            }
            do {
                let result = try ONNXImporter.read(data: damaged, file: path)
                let network = try GraphBuilder(spec: result.spec, file: path) { result.tensors[$0] ?? [] }.network()
                _ = network.forward(image, ExecutionPlan.default.with { $0.threads = 1 })
                imported += 1
            } catch is ModelError {
                refused += 1
            }
        }
        print("damaged zoo files: \(refused) refused, \(imported) imported and run")
        XCTAssertGreaterThan(refused, 0)
    }

    /// A graph ending in Softmax is stored without it (dxkit keeps logits and applies the card's
    /// output itself, once); as a multi-label import, whose outputs are independent, it is refused.
    func testFinalSoftmaxIsDxkitsToApply() throws {
        _ = try Self.manifest()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-final-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let summary = try ModelImport.run(onnx: "\(Self.folder)/zoo-opset17.onnx", options: .init(name: "zoo"), into: out)
        let classifier = try Classifier(directory: summary.folder)
        XCTAssertEqual(classifier.card.provenance?.finalActivationRemoved, "Softmax")
        XCTAssertFalse(try GraphSpec.load("\(summary.folder)/graph.json").nodes.contains { $0.op == "softmax" })
        var options = ModelImport.Options(name: "zoo-multi")
        options.multilabel = true
        XCTAssertThrowsError(try ModelImport.run(onnx: "\(Self.folder)/zoo-opset17.onnx", options: options, into: out)) { error in
            XCTAssertTrue("\(error)".contains("ends in Softmax"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(out)/zoo-multi"), "a refused import writes nothing")
    }

    /// A stored graph is read as untrusted too: a node naming a missing tensor or value is an error.
    func testEditedGraphFileIsRefused() throws {
        _ = try Self.manifest()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-graph-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let summary = try ModelImport.run(onnx: "\(Self.folder)/zoo-opset17.onnx", options: .init(name: "zoo"), into: out)
        let graph = "\(summary.folder)/graph.json"
        let original = try String(contentsOfFile: graph, encoding: .utf8)
        for (from, to) in [("\"n1.0\"", "\"n99.0\""), ("\"c1\"", "\"nowhere\""), ("\"groups\":[2]", "\"groups\":[3]")] {
            XCTAssertTrue(original.contains(from), from)
            try original.replacingOccurrences(of: from, with: to).write(toFile: graph, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try Classifier(directory: summary.folder), from) { XCTAssertTrue($0 is ModelError, "\($0)") }
        }
    }
}

/// A small seeded generator (SplitMix64) for reproducible damage.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
