import DICOM
import Engine
import Foundation
import Imaging
import Models
import XCTest

/// The Swift networks against the frameworks the weights came from (Keras 3 for Xception and
/// the pneumonia head, PyTorch for MobileNetV2 and EfficientNet-Lite0), on real images whose
/// preprocessed input is first checked to be byte-identical to the reference's — under every
/// instruction set the machine runs (`ISA.supported`: AVX-512, AVX2 and the portable path on an
/// AVX-512 machine). Each also checks the engine's promises on the real network: an image's
/// logits are the same bits alone (on one core or two) as in the batch of all of them, and with
/// the fused blocks turned off, and AVX2 gives the same bits as AVX-512.
final class ModelEquivalenceTests: XCTestCase {
    /// The instruction sets tested: every set this machine runs, fewer where DXKIT_ISA caps them.
    static let testedISAs = ISA.supported.filter { $0 <= ExecutionPlan.default.isa }

    /// `classifier`'s logits for `batch` under every supported instruction set (`body(isa, logits)`),
    /// after checking that the first `alone` images get the same logits by themselves.
    /// AVX2's logits must be AVX-512's, bit for bit, where the machine runs both.
    func eachISA(_ classifier: Classifier, _ batch: Tensor, alone: Int = 2, _ body: (ISA, Tensor) throws -> Void) rethrows {
        let k = batch.count / batch.batch
        var logitsOf: [ISA: [Float]] = [:]
        defer {
            if let avx512 = logitsOf[.avx512], let avx2 = logitsOf[.avx2] {
                XCTAssertEqual(avx2, avx512, "AVX2's logits differ from AVX-512's")
            }
        }
        for isa in Self.testedISAs {
            let plan = ExecutionPlan.default.with { $0.isa = isa }
            let logits = classifier.logits(batch, plan: plan.with { $0.threads = 2 })
            logitsOf[isa] = logits.data
            let classes = logits.count / logits.batch
            for i in 0..<min(alone, batch.batch) {
                let one = Tensor(shape: [1] + Array(batch.shape.dropFirst()), data: Array(batch.data[(i * k)..<(i * k + k)]))
                let row = Array(logits.data[(i * classes)..<(i * classes + classes)])
                for threads in [1, 2] {
                    XCTAssertEqual(classifier.logits(one, plan: plan.with { $0.threads = threads }).data, row,
                                   "image \(i) alone on \(threads) cores, \(isa)")
                }
            }
            if isa == Self.testedISAs.first {
                XCTAssertEqual(classifier.logits(batch, plan: plan.with { $0.threads = 2; $0.fuse = false }).data, logits.data,
                               "unfused, \(isa)")
            }
            try body(isa, logits)
        }
    }
    func uint8Hash(_ image: DICOM.Image) -> String {
        let bytes = image.pixels.map { UInt8($0) }
        return bytes.withUnsafeBytes { ContentHash.sha256($0) }
    }

    func chestInput(_ name: String, size: Int) throws -> DICOM.Image {
        let rgb = try InputLoader.rgb8(ReferenceOutputs.path("studies/chest/\(name).dcm"))
        return Resize.nearest(rgb, width: size, height: size)
    }

    func testPneumoniaProbabilitiesMatchKeras() throws {
        try ReferenceOutputs.requireSetup()
        let reference = try ReferenceOutputs.load().pneumonia
        let classifier = try Classifier(directory: ReferenceOutputs.path("models/xception-pneumonia"))
        let card = classifier.card
        var inputs: [[Float]] = []
        for r in reference.images {
            let image = try chestInput(r.image, size: 150)
            XCTAssertEqual(uint8Hash(image), r.input_sha256, "\(r.image): input differs from PIL's")
            inputs.append(ModelInput.normalise(image, scale: card.input.normalization.scale, offset: card.input.normalization.offset))
        }
        eachISA(classifier, Tensor(shape: [inputs.count, 3, 150, 150], data: inputs.flatMap { $0 })) { isa, logits in
            let probabilities = classifier.probabilities(logits)
            var correct = 0, worst = 0.0
            for (i, r) in reference.images.enumerated() {
                for k in 0..<2 { worst = max(worst, abs(Double(probabilities[i][k]) - r.probabilities[k])) }
                let predicted = probabilities[i][1] > probabilities[i][0] ? "PNEUMONIA" : "NORMAL"
                if predicted == r.label { correct += 1 }
            }
            print("pneumonia (\(isa)): max |p - p_keras| = \(worst), \(correct)/\(reference.images.count) correct")
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(isa)")
            XCTAssertEqual(correct, reference.correct, "\(isa)")
            XCTAssertEqual(correct, 13, "\(isa)")
        }
    }

    func testMobileNetV2MatchesPyTorch() throws { try imageNet("mobilenet-v2", try ReferenceOutputs.load().mobilenet) }

    func testEfficientNetLite0MatchesPyTorch() throws {
        try imageNet("efficientnet-lite0", try ReferenceOutputs.load().efficientnet)
    }

    func imageNet(_ model: String, _ reference: ReferenceOutputs.ImageNet) throws {
        try ReferenceOutputs.requireSetup()
        let mammograms = try ReferenceOutputs.load().mammograms.images
        let classifier = try Classifier(directory: ReferenceOutputs.path("models/\(model)"))
        let card = classifier.card
        var inputs: [[Float]] = []
        for r in reference.images {
            let image: DICOM.Image
            if let m = mammograms.first(where: { $0.image == r.image }) {
                image = try mammogramCrop(m)
            } else {
                image = try chestInput(r.image, size: 224)
            }
            XCTAssertEqual(uint8Hash(image), r.input_sha256, "\(model) \(r.image): input differs")
            inputs.append(ModelInput.normalise(image, scale: card.input.normalization.scale, offset: card.input.normalization.offset))
        }
        eachISA(classifier, Tensor(shape: [inputs.count, 3, 224, 224], data: inputs.flatMap { $0 })) { isa, logits in
            var worst: Float = 0
            for (i, r) in reference.images.enumerated() {
                let row = Array(logits.data[(i * 1000)..<(i * 1000 + 1000)])
                for k in 0..<1000 { worst = max(worst, abs(row[k] - Float(r.logits[k]))) }
                XCTAssertEqual(row.indices.max { row[$0] < row[$1] }, r.top5[0], "\(model) \(r.image): top-1 (\(isa))")
            }
            print("\(model) (\(isa)): max |logit - logit_torch| = \(worst) over \(reference.images.count) images")
            XCTAssertLessThanOrEqual(worst, 1e-3, "\(isa)")
        }
    }

    /// The reference's mammogram input: central crop, v >> 8, grey to RGB, nearest to 224.
    func mammogramCrop(_ m: ReferenceOutputs.Mammogram) throws -> DICOM.Image {
        let stored = try DicomImage(path: ReferenceOutputs.path(m.file)).storedFrame(0)
        var crop = [Float](repeating: 0, count: m.crop.size * m.crop.size)
        for y in 0..<m.crop.size {
            for x in 0..<m.crop.size {
                crop[y * m.crop.size + x] = Float(stored.values[(m.crop.r0 + y) * stored.columns + m.crop.c0 + x] >> 8)
            }
        }
        let grey = DICOM.Image(width: m.crop.size, height: m.crop.size, channels: 1, pixels: crop, photometric: "MONOCHROME2")
        XCTAssertEqual(uint8Hash(grey), m.crop_uint8_sha256, "\(m.image): crop differs")
        return Resize.nearest(ModelInput.rgb(grey), width: 224, height: 224)
    }
}
