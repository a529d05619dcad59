import Engine
import Foundation

/// Feature maps at the freeze point with their labels: one NHWC map per item, all of one shape,
/// held in memory when they fit under `memoryLimit` bytes and otherwise read back from their
/// cache files for each batch.
public struct ActivationSet {
    public let shape: [Int]
    public let labels: [Int]
    let files: [String]
    let values: [[Float]]?

    public static let memoryLimit = 2 << 30

    public init(shape: [Int], files: [String], labels: [Int]) throws {
        self.shape = shape
        self.files = files
        self.labels = labels
        values = files.count * shape.reduce(4, *) <= Self.memoryLimit ? try files.map(Self.load) : nil
    }

    /// Maps already in memory (benchmarks, tests).
    public init(shape: [Int], values: [[Float]], labels: [Int]) {
        precondition(values.count == labels.count && values.allSatisfy { $0.count == shape.reduce(1, *) }, "map sizes")
        self.shape = shape
        self.files = []
        self.labels = labels
        self.values = values
    }

    public var count: Int { labels.count }

    static func load(_ file: String) throws -> [Float] {
        guard let v = FeatureExtractor.read(file) else { throw TrainingError(file: file, reason: "unreadable feature-map cache") }
        return v
    }

    /// The maps of `indices` as one [B, H, W, C] batch.
    func batch(_ indices: [Int]) throws -> Tensor {
        var data: [Float] = []
        data.reserveCapacity(indices.count * shape.reduce(1, *))
        for i in indices {
            let v = try values?[i] ?? Self.load(files[i])
            guard v.count == shape.reduce(1, *) else { throw TrainingError(file: files[i], reason: "feature map of another shape") }
            data += v
        }
        return Tensor(shape: [indices.count] + shape, data: data, layout: .nhwc)
    }
}

/// Fine-tunes a backbone's last blocks together with a linear or MLP head (`--unfreeze K`): each
/// step runs the unfrozen blocks forward from the cached freeze-point maps, pools, applies the
/// head, and back-propagates through head, pooling and blocks; AdamW updates the head at the
/// scheduled rate and the blocks at `backboneLearningRateScale` times it. The head's input
/// standardisation follows the blocks: it is refitted to the retrained blocks' pooled outputs on
/// the training set at the end of every epoch (the head absorbing the change, so its function is
/// the same), and the stored head carries the statistics of the blocks stored with it. The epoch
/// loop, early stopping and checkpointing are `Trainer`'s.
public struct FineTuner {
    public let hyper: Trainer.Hyperparameters
    public let tail: TrainableTail
    /// How the blocks run (threads: one slice of each batch per core).
    public let plan: ExecutionPlan

    public init(_ hyper: Trainer.Hyperparameters, tail: TrainableTail, plan: ExecutionPlan = .default) {
        self.hyper = hyper
        self.tail = tail
        self.plan = plan
    }

    public func fit(train: ActivationSet, validation: ActivationSet, classes: Int,
                    progress: (Trainer.Epoch) -> Void = { _ in }) throws -> Trainer.Result {
        guard train.count > 0 else { throw TrainingError(file: "training", reason: "no training examples") }
        let trainer = Trainer(hyper)
        let kind = try trainer.headKind()
        guard kind != .prototype else {
            throw TrainingError(file: "--unfreeze", reason: "prototype heads are not trained by gradient; use --unfreeze 0 with them")
        }
        let parameters = tail.initialParameters
        let start = try TailAndHead.embeddings(tail, parameters, train, batch: hyper.batch, plan: plan)
        let head = trainer.initialHead(kind, embeddings: start, classes: classes)
        let tails = try (0..<plan.threads).map { i in i == 0 ? tail : try TrainableTail(tail.blocks) }
        let model = TailAndHead(tails: tails, parameters: parameters, head: head,
                                headOptimizer: AdamW(shapes: head.parameters, learningRate: hyper.learningRate, weightDecay: hyper.weightDecay,
                                                     decoupled: false),
                                tailOptimizer: AdamW(shapes: parameters, learningRate: hyper.learningRate, weightDecay: hyper.weightDecay),
                                train: train, validation: validation, weights: Trainer.classWeights(train.labels, classes: classes),
                                rateScale: hyper.backboneLearningRateScale, batchSize: hyper.batch, trainEmbeddings: start,
                                plan: plan)
        let (best, curve, bestEpoch, reasons) = try trainer.loop(model, count: train.count, progress: progress)
        return Trainer.Result(head: best.head, tail: best.parameters, curve: curve, bestEpoch: bestEpoch,
                              overfitting: !reasons.isEmpty, overfittingReasons: reasons)
    }
}

/// The unfrozen blocks and the head, trained together; copies are checkpoints. Each step splits
/// its batch into one slice per core (each with its own copy of the blocks' activations and
/// single-threaded BLAS) and adds the slices' gradients in slice order, weighted by their share
/// of the batch's loss weight: the same gradient as the whole batch, deterministic for a thread count.
struct TailAndHead: EpochModel {
    let tails: [TrainableTail]
    var parameters: [[Float]]
    var head: HeadModel
    var headOptimizer: AdamW, tailOptimizer: AdamW
    let train: ActivationSet, validation: ActivationSet
    let weights: [Float]
    let rateScale: Float
    let batchSize: Int
    /// Pooled outputs of the current blocks on the training set (refreshed at each epoch's end).
    var trainEmbeddings: [[Float]]
    let plan: ExecutionPlan

    var tail: TrainableTail { tails[0] }

    /// Refits the head's standardisation to the retrained blocks' outputs (function unchanged).
    mutating func endEpoch() throws {
        trainEmbeddings = try Self.embeddings(tail, parameters, train, batch: batchSize, plan: plan)
        let (mean, scale) = Standardisation.fit(trainEmbeddings)
        var moments: (m: [Float], v: [Float])? = (headOptimizer.m[0], headOptimizer.v[0])
        head.restandardise(mean: mean, scale: scale, moments: &moments)
        headOptimizer.m[0] = moments!.m
        headOptimizer.v[0] = moments!.v
    }

    func onTrainingSet() -> (loss: Float, auroc: Double?) {
        Trainer.validation(trainEmbeddings.map(head.logits), train.labels, weights: weights)
    }

    mutating func step(_ batch: [Int], rate: Float, rng: inout SplitMix64) throws -> Float {
        let slices = min(tails.count, batch.count)
        let bounds = (0...slices).map { $0 * batch.count / slices }
        let seeds = (0..<slices).map { _ in rng.next() }
        let total = batch.reduce(Float(0)) { $0 + self.weights[self.train.labels[$1]] }
        let inputs = try (0..<slices).map { try train.batch(Array(batch[bounds[$0]..<bounds[$0 + 1]])) }
        var outcomes = [(loss: Float, share: Float, head: [[Float]], tail: [[Float]])?](repeating: nil, count: slices)
        let lock = NSLock()
        let (head, parameters, tails, classWeights, labels) = (self.head, self.parameters, self.tails, self.weights, train.labels)
        Parallelism.each(slices, plan: plan) { s, plan in
            let part = Array(batch[bounds[s]..<bounds[s + 1]])
            let maps = tails[s].forward(inputs[s], parameters, plan: plan)
            let pooled = GlobalAveragePool().forward(maps, plan)
            let c = pooled.count / part.count
            let embeddings = (0..<part.count).map { Array(pooled.data[($0 * c)..<(($0 + 1) * c)]) }
            var noise = SplitMix64(seed: seeds[s])
            let (loss, headGrads, inputGrads) = head.lossAndGradient(embeddings, part.map { labels[$0] }, weights: classWeights,
                                                                     rng: &noise, inputGradients: true)
            let share = part.reduce(Float(0)) { $0 + classWeights[labels[$1]] } / max(total, 1e-12)
            let dMaps = Gradients.globalAveragePool(input: maps, dy: Tensor(shape: [part.count, c],
                                                                              data: inputGrads.flatMap { $0.map { $0 * share } }))
            let tailGrads = tails[s].backward(dMaps, parameters, plan: plan)
            lock.lock()
            outcomes[s] = (loss, share, headGrads, tailGrads)
            lock.unlock()
        }
        var headGrads = outcomes[0]!.head.map { $0.map { $0 * outcomes[0]!.share } }
        var loss = outcomes[0]!.loss * outcomes[0]!.share
        for o in outcomes.dropFirst().map({ $0! }) {
            for t in headGrads.indices { accumulate(&headGrads[t], o.head[t].map { $0 * o.share }) }
            loss += o.loss * o.share
        }
        headOptimizer.update(&self.head.parameters, headGrads, rate: rate)
        // The slices' gradients of the blocks are added inside the update (one pass over the tensors).
        tailOptimizer.update(&self.parameters, summing: outcomes.map { $0!.tail }, rate: rate * rateScale)
        return loss
    }

    func heldOut() throws -> (loss: Float, auroc: Double?)? {
        guard validation.count > 0 else { return nil }
        let e = try Self.embeddings(tail, parameters, validation, batch: batchSize, plan: plan)
        return Trainer.validation(e.map(head.logits), validation.labels, weights: weights)
    }

    /// Pooled outputs of the blocks for every item of `set`.
    static func embeddings(_ tail: TrainableTail, _ parameters: [[Float]], _ set: ActivationSet, batch: Int,
                           plan: ExecutionPlan = .default) throws -> [[Float]] {
        // The blocks as inference layers (the engine's packed GEMM, fused), the batch split across cores.
        let network = Fusion.plan(Sequential(tail.layers(parameters) + [GlobalAveragePool()]))
        var out: [[Float]] = []
        for first in stride(from: 0, to: set.count, by: max(1, batch)) {
            let indices = Array(first..<min(first + max(1, batch), set.count))
            let pooled = Parallelism.forward(network, try set.batch(indices), plan: plan)
            let c = pooled.count / indices.count
            out += (0..<indices.count).map { Array(pooled.data[($0 * c)..<(($0 + 1) * c)]) }
        }
        return out
    }
}
