import Engine
import Foundation
import Models

/// A cohort's examples as training sees them, computed on first use and cached: pooled
/// embeddings for a frozen backbone, feature maps at the freeze point for `--unfreeze K`.
/// Fits a configuration on some examples and gives the fitted model's logits on others, so the
/// final fit and every cross-validation fold of a search go through the same code.
final class TrainingInputs {
    let examples: [Cohort.Example]
    let backbone: Classifier
    let extractor: FeatureExtractor
    let log: (String) -> Void
    /// Examples only ever used as they are (no augmented copies computed).
    let plain: Set<Int>
    private var embeddingCache: [[[Float]]]?
    private var mapCache: [Int: (shape: [Int], files: [[String]])] = [:]

    init(examples: [Cohort.Example], backbone: Classifier, extractor: FeatureExtractor, plain: Set<Int> = [],
         log: @escaping (String) -> Void) {
        self.examples = examples
        self.plain = plain
        self.backbone = backbone
        self.extractor = extractor
        self.log = log
    }

    /// Copy 0 then the augmented copies of every example.
    func embeddings() throws -> [[[Float]]] {
        if let embeddingCache { return embeddingCache }
        let e = try extractor.embeddings(examples, plain: plain) { done, total in self.log("features: \(done)/\(total)") }
        embeddingCache = e
        return e
    }

    /// The first unfrozen block and each example's cached maps at its input.
    func maps(unfreeze k: Int) throws -> (start: Int, shape: [Int], files: [[String]]) {
        let start = try TrainedHead.tailStart(backbone.features, unfrozen: k, file: "--unfreeze")
        if let cached = mapCache[start] { return (start, cached.shape, cached.files) }
        let m = try extractor.activations(examples, cut: start, plain: plain) { done, total in self.log("feature maps: \(done)/\(total)") }
        mapCache[start] = m
        return (start, m.shape, m.files)
    }

    func tail(unfreeze k: Int) throws -> (TrainableTail, ActivationSetMaker) {
        let (start, shape, files) = try maps(unfreeze: k)
        let tail = try TrainableTail(Array(backbone.features.layers[start...]))
        return (tail, ActivationSetMaker(shape: shape, files: files, labels: examples.map(\.label)))
    }

    /// Trains `hyper` on `train` (with their augmented copies), validating on `validation` (as is).
    func fit(_ hyper: Trainer.Hyperparameters, train: [Int], validation: [Int], classes: Int,
             progress: (Trainer.Epoch) -> Void = { _ in }) throws -> Trainer.Result {
        guard hyper.unfreeze > 0 else {
            let e = try embeddings()
            return try Trainer(hyper).fit(train: train.flatMap { i in e[i].map { ($0, examples[i].label) } },
                                          validation: validation.map { (e[$0][0], examples[$0].label) },
                                          classes: classes, progress: progress)
        }
        let (tail, sets) = try tail(unfreeze: hyper.unfreeze)
        return try FineTuner(hyper, tail: tail).fit(train: try sets.make(train, augmented: true),
                                                    validation: try sets.make(validation, augmented: false),
                                                    classes: classes, progress: progress)
    }

    /// Logits of the fitted model on `indices` (their unaugmented copy).
    func logits(_ result: Trainer.Result, _ hyper: Trainer.Hyperparameters, of indices: [Int]) throws -> [[Float]] {
        guard hyper.unfreeze > 0 else {
            let e = try embeddings()
            return indices.map { result.head.logits(e[$0][0]) }
        }
        let (tail, sets) = try tail(unfreeze: hyper.unfreeze)
        return try TailAndHead.embeddings(tail, result.tail, try sets.make(indices, augmented: false), batch: hyper.batch)
            .map(result.head.logits)
    }
}

/// Builds activation sets from some examples' cached maps.
struct ActivationSetMaker {
    let shape: [Int]
    let files: [[String]]
    let labels: [Int]

    func make(_ indices: [Int], augmented: Bool) throws -> ActivationSet {
        let chosen = indices.map { augmented ? files[$0] : [files[$0][0]] }
        return try ActivationSet(shape: shape, files: chosen.flatMap { $0 },
                                 labels: zip(indices, chosen).flatMap { i, f in f.map { _ in labels[i] } })
    }
}
