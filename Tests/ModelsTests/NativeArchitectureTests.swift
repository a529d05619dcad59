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
}
