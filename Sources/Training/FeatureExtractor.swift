import DICOM
import Engine
import Foundation
import Imaging
import Models
import Scoring

/// Embeddings at the freeze point (the backbone's globally pooled features), computed once per
/// image and augmentation copy and cached on disk keyed by backbone weights, file content and
/// copy, so that epochs, searches and re-runs only train the head.
public struct FeatureExtractor {
    public let backbone: Classifier
    public let cacheDirectory: String
    public let augmentation: Augmentation

    public init(backbone: Classifier, cacheDirectory: String, augmentation: Augmentation) {
        self.backbone = backbone
        self.cacheDirectory = cacheDirectory
        self.augmentation = augmentation
    }

    /// Embeddings of each example: copy 0 (as is) first, then the augmented copies.
    public func embeddings(_ examples: [Cohort.Example], progress: (Int, Int) -> Void = { _, _ in }) throws -> [[[Float]]] {
        let card = backbone.card
        let folder = "\(cacheDirectory)/\((card.weightsSha256 ?? card.name).prefix(16))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var out: [[[Float]]] = []
        for (i, e) in examples.enumerated() {
            var copies: [[Float]] = []
            var image: DICOM.Image?
            for copy in 0...augmentation.copies {
                let tag = copy == 0 ? "plain" : "aug\(copy)-\(augmentation.summary.hashValueStable)"
                let file = "\(folder)/\(e.instance.sha256.prefix(32))-\(tag).f32"
                if let cached = Self.read(file) { copies.append(cached); continue }
                if image == nil { image = try InputLoader.rgb8(e.instance.path) }
                let seed = UInt64(copy) &* 0x9E3779B97F4A7C15 ^ e.instance.sha256.hashValueStable
                let source = copy == 0 ? image! : augmentation.apply(image!, seed: seed)
                let input = InputLoader.prepare(source, for: card)
                let features = backbone.features.forward(Tensor(shape: [1, 3, card.input.height, card.input.width], data: input))
                let pooled = GlobalAveragePool().forward(features).data
                try Self.write(pooled, to: file)
                copies.append(pooled)
            }
            out.append(copies)
            progress(i + 1, examples.count)
        }
        return out
    }

    static func read(_ path: String) -> [Float]? {
        guard let data = FileManager.default.contents(atPath: path), data.count % 4 == 0, !data.isEmpty else { return nil }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func write(_ values: [Float], to path: String) throws {
        let tmp = path + ".tmp"
        try values.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, path) == 0 else { throw TrainingError(file: path, reason: "cannot write the feature cache") }
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: stable across runs (Swift's hashValue is seeded per process).
    var hashValueStable: UInt64 {
        utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 }
    }
}
