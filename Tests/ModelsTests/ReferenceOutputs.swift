import Foundation
import XCTest

/// Fixtures/reference-outputs.json (scripts/reference_outputs.py): the source frameworks' outputs.
struct ReferenceOutputs: Decodable {
    struct PneumoniaImage: Decodable {
        let image: String
        let label: String
        let input_sha256: String
        let logits: [Double]
        let probabilities: [Double]
    }
    struct Pneumonia: Decodable {
        let images: [PneumoniaImage]
        let correct: Int
    }
    struct ImageNetImage: Decodable {
        let image: String
        let input_sha256: String
        let top5: [Int]
        let logits: [Double]
    }
    struct ImageNet: Decodable { let images: [ImageNetImage] }
    struct Mammogram: Decodable {
        struct Crop: Decodable { let r0: Int, c0: Int, size: Int }
        let image: String
        let file: String
        let crop: Crop
        let crop_uint8_sha256: String
    }
    struct Mammograms: Decodable { let images: [Mammogram] }

    let pneumonia: Pneumonia
    let efficientnet: ImageNet
    let mobilenet: ImageNet
    let mammograms: Mammograms

    enum CodingKeys: String, CodingKey {
        case pneumonia, mammograms
        case efficientnet = "efficientnet-lite0"
        case mobilenet = "mobilenet-v2"
    }

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func load() throws -> ReferenceOutputs {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/reference-outputs.json")
        return try JSONDecoder().decode(ReferenceOutputs.self, from: Data(contentsOf: url))
    }

    static func path(_ relative: String) -> String { repo.appendingPathComponent(relative).path }

    /// Fails (not skips) when `make setup` has not converted the weights or laid out studies/.
    static func requireSetup(file: StaticString = #filePath, line: UInt = #line) throws {
        for needed in ["models/xception-pneumonia/model.safetensors", "studies/chest/NORMAL2-IM-1427-0001.dcm"]
        where !FileManager.default.fileExists(atPath: path(needed)) {
            XCTFail("\(needed) missing: run `make setup`", file: file, line: line)
            throw XCTSkip("no setup")
        }
    }
}
