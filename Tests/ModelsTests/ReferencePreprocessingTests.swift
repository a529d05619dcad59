import DICOM
import Engine
import Foundation
import Imaging
import Models
import XCTest

/// Reference-exact preprocessing (issue 18, part 4): the card's resize methods against PIL byte for
/// byte (`.cache/native-archs/resize.u8`, scripts/native_arch_reference.py), the card checks, the
/// single-channel input, and `classify`'s ImageNet answers on photos against PyTorch's with
/// torchvision's evaluation transform (Fixtures/imagenet-photos.json).
final class ReferencePreprocessingTests: XCTestCase {
    struct Case: Decodable { let image: String; let source: String; let `case`: String; let shape: [Int]; let offset: Int }
    struct Manifest: Decodable { let resize: [Case] }

    func testResizeMethodsAreByteExactToPIL() throws {
        let folder = ReferenceOutputs.path(".cache/native-archs")
        guard let manifestData = FileManager.default.contents(atPath: "\(folder)/manifest.json"),
              let bytes = FileManager.default.contents(atPath: "\(folder)/resize.u8") else {
            XCTFail("\(folder) missing: run `make setup` (scripts/native-arch-reference.sh)")
            return
        }
        let cases = try JSONDecoder().decode(Manifest.self, from: manifestData).resize
        XCTAssertEqual(cases.count, 63)
        var checked = 0
        for c in cases {
            let source = try InputLoader.pixels8(ReferenceOutputs.path(c.source))
            let made: DICOM.Image
            switch c.case {
            case "shorter-256-crop-224": made = ResizeMethod("shorter-256-crop-224")!.apply(ModelInput.rgb(source), width: 224, height: 224)
            case "shorter-224-crop-224-grey": made = ResizeMethod("shorter-224-crop-224")!.apply(ModelInput.grey(source), width: 224, height: 224)
            case "letterbox-224": made = ResizeMethod("letterbox")!.apply(ModelInput.rgb(source), width: 224, height: 224)
            default: XCTFail("unknown case \(c.case)"); continue
            }
            XCTAssertEqual([made.height, made.width, made.channels], c.shape, "\(c.image) \(c.case)")
            let want = bytes[c.offset..<(c.offset + c.shape.reduce(1, *))]
            let got = made.pixels.map { UInt8($0) }
            let differing = zip(got, want).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "\(c.image) \(c.case): \(differing) bytes differ from PIL's")
            checked += 1
        }
        print("resize: \(checked) cases byte-identical to PIL (shorter-256-crop-224, grey shorter-224-crop-224, letterbox)")
    }

    func card(resize: String, channels: Int = 3, scale: [Float] = [1, 1, 1], offset: [Float] = [0, 0, 0]) -> Data {
        let json: [String: Any] = ["name": "t", "architecture": "mobilenet-v2", "batchnorm_epsilon": 1e-5,
                                   "input": ["height": 224, "width": 224, "channels": channels, "color": channels == 1 ? "grey" : "rgb",
                                             "resize": resize, "normalization": ["scale": scale, "offset": offset]]]
        return try! JSONSerialization.data(withJSONObject: json)
    }

    func testCardResizeAndChannelsAreChecked() throws {
        for good in ["nearest", "bilinear", "stretch", "letterbox", "shorter-256-crop-224", "shorter-224-crop-224"] {
            XCTAssertNoThrow(try ModelCard.decode(card(resize: good), file: "good.json"), good)
        }
        for bad in ["squash", "shorter-256-crop-200", "shorter-200-crop-224", "shorter-x-crop-224", "shorter-256-crop-224-x", ""] {
            XCTAssertThrowsError(try ModelCard.decode(card(resize: bad), file: "cards/bad.json"), bad) { error in
                XCTAssertTrue(error is ModelError, bad)
                XCTAssertTrue("\(error)".hasPrefix("cards/bad.json: input:"), "\(error)")
            }
        }
        XCTAssertThrowsError(try ModelCard.decode(card(resize: "stretch", channels: 2), file: "c.json"))
        XCTAssertThrowsError(try ModelCard.decode(card(resize: "stretch", channels: 1), file: "c.json"), "3 scales for 1 channel")
        // TorchXRayVision's convention: grey 224x224, x * 2048/255 - 1024, one channel.
        let grey = try ModelCard.decode(card(resize: "shorter-224-crop-224", channels: 1, scale: [2048 / 255], offset: [-1024]), file: "xrv.json")
        let rgb = DICOM.Image(width: 300, height: 260, channels: 3, pixels: (0..<(300 * 260 * 3)).map { Float($0 % 256) }, photometric: "RGB")
        let input = InputLoader.prepare(rgb, for: grey)
        XCTAssertEqual(input.count, 224 * 224)
        let expected = ResizeMethod("shorter-224-crop-224")!.apply(ModelInput.grey(rgb), width: 224, height: 224)
        XCTAssertEqual(input[1000], expected.pixels[1000] * Float(2048.0 / 255) - 1024)
        let batch = InputLoader.batch([input, input], for: grey)
        XCTAssertEqual(batch.shape, [2, 1, 224, 224])
        XCTAssertEqual(grey.forTraining.input.resize, "bilinear", "heads stretch rather than crop")
    }

    struct Photos: Decodable {
        struct Row: Decodable { let top5: [Int]; let labels: [String] }
        let photos: [String]
        let models: [String: [String: Row]]
    }

    func testImageNetPhotosAgreeWithPyTorchTop5() throws {
        try ReferenceOutputs.requireSetup()
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/imagenet-photos.json")
        let golden = try JSONDecoder().decode(Photos.self, from: Data(contentsOf: url))
        for model in ["mobilenet-v2", "efficientnet-lite0"] {
            let classifier = try Classifier(directory: ReferenceOutputs.path("models/\(model)"))
            XCTAssertEqual(classifier.card.input.resize, "shorter-256-crop-224", "\(model): run make setup to reconvert the card")
            let paths = golden.photos.map { ReferenceOutputs.path(".cache/data/scikit-image/skimage/data/\($0)") }
            let inputs = try paths.map { InputLoader.prepare(try InputLoader.rgb8($0), for: classifier.card) }
            let logits = classifier.logits(InputLoader.batch(inputs, for: classifier.card))
            for (i, photo) in golden.photos.enumerated() {
                let name = String(photo.split(separator: ".")[0])
                let want = try XCTUnwrap(golden.models[model]?[name])
                let row = Array(logits.data[(i * 1000)..<((i + 1) * 1000)])
                let top5 = row.indices.sorted { row[$0] > row[$1] }.prefix(5)
                XCTAssertEqual(top5.first, want.top5[0], "\(model) \(photo): top-1")
                XCTAssertEqual(Set(top5), Set(want.top5), "\(model) \(photo): top-5")
                XCTAssertEqual(top5.map { classifier.card.label($0) }, top5.map { want.labels[want.top5.firstIndex(of: $0) ?? 0] },
                               "\(model) \(photo): ILSVRC-2012 names")
                print("\(model) \(photo): \(top5.map { classifier.card.label($0) }.joined(separator: ", "))")
            }
        }
    }
}
