import Common
import DICOM
import Engine
import Foundation
import Imaging
import Models


/// What training starts from, computed once per image and augmentation copy and cached on disk
/// keyed by backbone weights, file content, copy and freeze point, so that epochs, searches and
/// re-runs only train what is unfrozen: the backbone's globally pooled features (frozen backbone)
/// or its feature maps where the unfrozen blocks begin (`--unfreeze K`).
public struct FeatureExtractor {
    public let backbone: Classifier
    public let cacheDirectory: String
    public let augmentation: Augmentation
    /// "breast": what is not breast is blacked out (after augmentation, before resizing), as
    /// scoring does for a card whose input says so; nil: no mask. Part of the cache key.
    public let mask: String?

    /// How the backbone runs (the cache's values are the same under any plan, to rounding across
    /// instruction sets).
    public let plan: ExecutionPlan

    public init(backbone: Classifier, cacheDirectory: String, augmentation: Augmentation, mask: String? = nil,
                plan: ExecutionPlan = .default) {
        self.backbone = backbone
        self.cacheDirectory = cacheDirectory
        self.augmentation = augmentation
        self.mask = mask
        self.plan = plan
    }

    /// Pooled embeddings of each example: copy 0 (as is) first, then the augmented copies (none
    /// for the examples in `plain`).
    public func embeddings(_ examples: [Cohort.Example], plain: Set<Int> = [], progress: (Int, Int) -> Void = { _, _ in }) throws -> [[[Float]]] {
        let pooled = Fusion.plan(Sequential([backbone.features, GlobalAveragePool()]))
        return try computeOrRead(examples, suffix: "", plain: plain, progress: progress) { batch in
            let out = Parallelism.forward(pooled, batch, plan: plan)
            let c = out.count / out.batch
            return (0..<out.batch).map { (Array(out.data[($0 * c)..<(($0 + 1) * c)]), nil) }
        }.map { try $0.map { file in
            guard let values = Self.read(file) else { throw TrainingError(file: file, reason: "unreadable feature cache") }
            return values
        } }
    }

    /// Cache files of each example's feature maps at the input of top-level layer `cut` (copy 0
    /// first, then the augmented copies), with the maps' [height, width, channels].
    public func activations(_ examples: [Cohort.Example], cut: Int, plain: Set<Int> = [],
                            progress: (Int, Int) -> Void = { _, _ in }) throws -> (shape: [Int], files: [[String]]) {
        let frozen = Fusion.plan(Sequential(Array(backbone.features.layers[..<cut])))
        let files = try computeOrRead(examples, suffix: "-cut\(cut)", plain: plain, progress: progress) { batch in
            let maps = Parallelism.forward(frozen, batch, plan: plan).toNHWC(plan)
            let shape = Array(maps.shape.dropFirst()), per = maps.count / maps.batch
            return (0..<maps.batch).map { (Array(maps.data[($0 * per)..<(($0 + 1) * per)]), shape) }
        }
        guard let first = files.first?.first, let shape = Self.readShape(first) else {
            throw TrainingError(file: cacheDirectory, reason: "no feature maps were cached")
        }
        return (shape, files)
    }

    /// Images run through the backbone at once (on every core) when filling the cache.
    static let batchSize = 16

    /// Cache file of every example and copy, computing only what is not cached yet, a batch at a
    /// time (`compute`: network inputs [B, 3, H, W] → each item's values and, for maps, shape).
    /// Items are independent of their batch, so the files are the same as one image at a time.
    func computeOrRead(_ examples: [Cohort.Example], suffix: String, plain: Set<Int>, progress: (Int, Int) -> Void,
                       compute: (Tensor) -> [([Float], [Int]?)]) throws -> [[String]] {
        let card = backbone.card.forTraining
        let folder = "\(cacheDirectory)/\((card.weightsSha256 ?? card.name).prefix(16))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var pending: [(file: String, input: [Float])] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            let batch = InputLoader.batch(pending.map(\.input), for: card)
            for (item, result) in zip(pending, compute(batch)) { try Self.write(result.0, shape: result.1, to: item.file) }
            pending = []
        }
        var out: [[String]] = []
        for (i, e) in examples.enumerated() {
            var copies: [String] = []
            var image: DICOM.Image?
            for copy in 0...(plain.contains(i) ? 0 : augmentation.copies) {
                let tag = (copy == 0 ? "plain" : "aug\(copy)-\(StableHash.fnv1a(augmentation.summary))") + (mask.map { "-mask-\($0)" } ?? "")
                let file = "\(folder)/\(e.instance.sha256.prefix(32))-\(tag)\(suffix).f32"
                copies.append(file)
                if Self.isWhole(file) { continue }  // cached
                if image == nil { image = try InputLoader.rgb8(e.instance.path) }
                let seed = UInt64(copy) &* 0x9E3779B97F4A7C15 ^ StableHash.fnv1a(e.instance.sha256)
                let source = copy == 0 ? image! : augmentation.apply(image!, seed: seed)
                pending.append((file, InputLoader.prepare(InputLoader.masked(source, mask: mask), for: card)))
            }
            out.append(copies)
            if pending.count >= Self.batchSize { try flush() }
            progress(i + 1, examples.count)
        }
        try flush()
        return out
    }

    /// Values of a cache file (after its shape header, for maps); nil when missing or damaged.
    static func read(_ path: String) -> [Float]? {
        guard let data = FileManager.default.contents(atPath: path), data.count % 4 == 0, data.count >= 4 else { return nil }
        let values: [Float] = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        guard path.hasSuffix(".f32"), path.contains("-cut") else { return values }
        guard let shape = shape(of: data), values.count == 3 + shape.reduce(1, *) else { return nil }
        return Array(values[3...])
    }

    /// Whether a cache file is there and complete (by its size: what `read` accepts), without reading it.
    static func isWhole(_ path: String) -> Bool {
        guard let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int,
              size >= 4, size % 4 == 0 else { return false }
        guard path.contains("-cut") else { return true }
        guard let shape = readShape(path) else { return false }
        return size == 4 * (3 + shape.reduce(1, *))
    }

    /// [height, width, channels] of a feature-map cache file.
    static func readShape(_ path: String) -> [Int]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return shape(of: handle.readData(ofLength: 12))
    }

    static func shape(of data: Data) -> [Int]? {
        guard data.count >= 12 else { return nil }
        let dims: [Int32] = data.prefix(12).withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
        return dims.allSatisfy { $0 > 0 } ? dims.map(Int.init) : nil
    }

    /// Writes atomically (rename), so an interrupted run never leaves a truncated cache file.
    static func write(_ values: [Float], shape: [Int]?, to path: String) throws {
        let tmp = path + ".tmp"
        var data = Data()
        if let shape { shape.map { Int32($0) }.withUnsafeBytes { data.append(contentsOf: $0) } }
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, path) == 0 else { throw TrainingError(file: path, reason: "cannot write the feature cache") }
    }
}
