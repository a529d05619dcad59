import Engine
import Foundation
import Models
import XCTest

/// dxkit's native DenseNet-121 and ResNet-50 against torchvision's own modules (PyTorch, eval
/// mode) with seeded random weights: `.cache/native-archs` (scripts/native_arch_reference.py, run
/// by `make setup`) holds the state_dicts converted by scripts/convert_torchvision.py, 8 inputs
/// (chest X-rays and photos through torchvision's ImageNet transform, and noise) and PyTorch's
/// logits. Under every instruction set the machine runs: max |Δlogit| ≤ 1e-4 × the logits' scale,
/// an image's logits the same bits alone (one core or two) as in the batch, the same unfused, and
/// AVX2's bits AVX-512's.
final class NativeArchitectureTests: XCTestCase {
    static let folder = ReferenceOutputs.path(".cache/native-archs")

    func testDenseNet121MatchesPyTorch() throws { try matches("densenet-121") }

    func testResNet50MatchesPyTorch() throws { try matches("resnet-50") }

    static func floats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func manifest() throws -> [String: Any] {
        let path = "\(folder)/manifest.json"
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("\(path) missing: run `make setup` (scripts/native-arch-reference.sh)")
            throw XCTSkip("no oracle")
        }
        return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    func matches(_ name: String) throws {
        let manifest = try Self.manifest()
        let entry = manifest[name] as! [String: Any]
        let inputs = manifest["inputs"] as! [String: Any]
        let shape = inputs["shape"] as! [Int]
        let x = Tensor(shape: shape, data: try Self.floats("\(Self.folder)/inputs.f32"))
        let reference = try Self.floats("\(Self.folder)/\(entry["logits"] as! String)")
        let scale = entry["scale"] as! Double
        let classifier = try Classifier(directory: "\(Self.folder)/\(name)")
        XCTAssertEqual(classifier.card.architecture, name)
        let per = x.count / x.batch
        var logitsOf: [ISA: [Float]] = [:]
        for isa in ModelEquivalenceTests.testedISAs {
            let plan = ExecutionPlan.default.with { $0.isa = isa; $0.threads = 2 }
            let logits = classifier.logits(x, plan: plan)
            logitsOf[isa] = logits.data
            XCTAssertEqual(logits.count, reference.count)
            var worst: Float = 0
            for (a, b) in zip(logits.data, reference) { worst = max(worst, abs(a - b)) }
            print("\(name) (\(isa)): max |logit - logit_torch| = \(worst) (logit scale \(scale), \(x.batch) images)")
            XCTAssertLessThanOrEqual(Double(worst), 1e-4 * scale, "\(name) \(isa)")
            let classes = logits.count / logits.batch
            for i in [0, x.batch - 1] {
                let one = Tensor(shape: [1] + Array(shape.dropFirst()), data: Array(x.data[(i * per)..<((i + 1) * per)]))
                let row = Array(logits.data[(i * classes)..<((i + 1) * classes)])
                for threads in [1, 2] {
                    XCTAssertEqual(classifier.logits(one, plan: plan.with { $0.threads = threads }).data, row,
                                   "\(name) image \(i) alone on \(threads) cores, \(isa)")
                }
            }
            if isa == ModelEquivalenceTests.testedISAs.first {
                XCTAssertEqual(classifier.logits(x, plan: plan.with { $0.fuse = false }).data, logits.data, "\(name) unfused, \(isa)")
            }
        }
        if let avx512 = logitsOf[.avx512], let avx2 = logitsOf[.avx2] { XCTAssertEqual(avx2, avx512, "\(name): AVX2 differs from AVX-512") }
    }

    /// The user's path: the converted card's preprocessing (`shorter-256-crop-224`, ImageNet
    /// normalisation) on the image files gives torchvision's transform's tensors, and the model's
    /// top-5 on them is PyTorch's.
    func testCardPreprocessingIsTorchvisionsTransform() throws {
        let manifest = try Self.manifest()
        let inputs = manifest["inputs"] as! [String: Any]
        let names = inputs["images"] as! [String]
        let x = try Self.floats("\(Self.folder)/inputs.f32")
        let per = 3 * 224 * 224
        let classifier = try Classifier(directory: "\(Self.folder)/densenet-121")
        XCTAssertEqual(classifier.card.input.resize, "shorter-256-crop-224")
        let reference = try Self.floats("\(Self.folder)/logits-densenet-121.f32")
        var prepared: [[Float]] = []
        for (i, name) in names.enumerated() where !name.hasPrefix("noise") {
            let chest = ".cache/data/pneumonia-model-package/pneumonia_model_package/datasets/pneumonia-data/val/\(name)"
            let photo = ".cache/data/scikit-image/skimage/data/\(name)"
            let path = ReferenceOutputs.path(FileManager.default.fileExists(atPath: ReferenceOutputs.path(chest)) ? chest : photo)
            let input = InputLoader.prepare(try InputLoader.pixels8(path), for: classifier.card)
            var worst: Float = 0
            for (a, b) in zip(input, x[(i * per)..<((i + 1) * per)]) { worst = max(worst, abs(a - b)) }
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(name): input differs from torchvision's by \(worst)")
            prepared.append(input)
        }
        XCTAssertEqual(prepared.count, 6)
        let logits = classifier.logits(InputLoader.batch(prepared, for: classifier.card))
        for i in 0..<prepared.count {
            let row = Array(logits.data[(i * 1000)..<((i + 1) * 1000)]), want = Array(reference[(i * 1000)..<((i + 1) * 1000)])
            let top = { (v: [Float]) in Array(v.indices.sorted { v[$0] > v[$1] }.prefix(5)) }
            XCTAssertEqual(top(row), top(want), "\(names[i]): top-5")
        }
    }
}
