import Foundation

/// Fits a head on cached embeddings: AdamW with a cosine or step schedule, class weights for
/// imbalance, early stopping on validation loss keeping the best epoch. Deterministic for a seed.
public struct Trainer {
    public struct Hyperparameters: Codable, Sendable {
        public var head: String = "linear"
        public var epochs = 100
        public var learningRate: Float = 1e-3
        public var weightDecay: Float = 1e-2
        public var batch = 32
        public var schedule = "cosine"
        public var patience = 15
        public var hidden = 128
        public var seed: UInt64 = 1
        public init() {}
    }

    public struct Epoch: Codable, Sendable {
        public var epoch: Int
        public var trainLoss: Float
        public var validationLoss: Float?
    }

    public struct Result: Sendable {
        public var head: HeadModel
        public var curve: [Epoch]
        public var bestEpoch: Int
        /// Validation loss rose well above its best while training loss kept falling.
        public var overfitting: Bool
    }

    public let hyper: Hyperparameters

    public init(_ hyper: Hyperparameters) { self.hyper = hyper }

    /// `train`: embeddings (augmented copies included) with labels; `validation` may be empty.
    public func fit(train: [([Float], Int)], validation: [([Float], Int)], classes: Int,
                    progress: (Epoch) -> Void = { _ in }) throws -> Result {
        guard let dim = train.first?.0.count else { throw TrainingError(file: "training", reason: "no training examples") }
        guard let kind = HeadModel.Kind(rawValue: hyper.head) else {
            throw TrainingError(file: "--head-type", reason: "unknown head type \(hyper.head) (linear, mlp, prototype)")
        }
        // Standardisation from the training set.
        var mean = [Float](repeating: 0, count: dim), scale = [Float](repeating: 1, count: dim)
        for (x, _) in train { for i in 0..<dim { mean[i] += x[i] } }
        for i in 0..<dim { mean[i] /= Float(train.count) }
        var variance = [Float](repeating: 0, count: dim)
        for (x, _) in train { for i in 0..<dim { variance[i] += (x[i] - mean[i]) * (x[i] - mean[i]) } }
        for i in 0..<dim { scale[i] = 1 / max((variance[i] / Float(train.count)).squareRoot(), 1e-6) }

        var head = HeadModel(kind: kind, inputs: dim, hidden: hyper.hidden, classes: classes, mean: mean, scale: scale, seed: hyper.seed)
        let counts = (0..<classes).map { c in Float(train.filter { $0.1 == c }.count) }
        let weights = counts.map { $0 > 0 ? Float(train.count) / (Float(classes) * $0) : 0 }
        if kind == .prototype {
            head.fitPrototypes(train.map(\.0), train.map(\.1))
            let epoch = Epoch(epoch: 1, trainLoss: head.loss(train.map(\.0), train.map(\.1), weights: weights),
                              validationLoss: validation.isEmpty ? nil : head.loss(validation.map(\.0), validation.map(\.1), weights: weights))
            progress(epoch)
            return Result(head: head, curve: [epoch], bestEpoch: 1, overfitting: false)
        }
        var optimizer = AdamW(shapes: head.parameters, learningRate: hyper.learningRate, weightDecay: hyper.weightDecay)
        var rng = SplitMix64(seed: hyper.seed &+ 1)
        var order = Array(train.indices)
        var curve: [Epoch] = []
        var best = head, bestLoss = Float.infinity, bestEpoch = 1, sinceBest = 0
        for epoch in 1...max(1, hyper.epochs) {
            let rate: Float
            switch hyper.schedule {
            case "step": rate = hyper.learningRate * pow(0.1, Float((epoch - 1) / max(1, hyper.epochs / 3)))
            default: rate = hyper.learningRate * 0.5 * (1 + cos(.pi * Float(epoch - 1) / Float(max(1, hyper.epochs))))
            }
            rng.shuffle(&order)
            var total: Float = 0
            for start in stride(from: 0, to: order.count, by: max(1, hyper.batch)) {
                let batch = order[start..<min(start + hyper.batch, order.count)]
                let (loss, grads) = head.lossAndGradient(batch.map { train[$0].0 }, batch.map { train[$0].1 }, weights: weights, rng: &rng)
                total += loss * Float(batch.count)
                optimizer.update(&head.parameters, grads, rate: rate)
            }
            let trainLoss = total / Float(order.count)
            let validationLoss = validation.isEmpty ? nil : head.loss(validation.map(\.0), validation.map(\.1), weights: weights)
            let record = Epoch(epoch: epoch, trainLoss: trainLoss, validationLoss: validationLoss)
            curve.append(record)
            progress(record)
            let monitored = validationLoss ?? trainLoss
            if monitored < bestLoss - 1e-6 {
                bestLoss = monitored; best = head; bestEpoch = epoch; sinceBest = 0
            } else {
                sinceBest += 1
                if validationLoss != nil && sinceBest >= hyper.patience { break }
            }
        }
        if validation.isEmpty { best = head; bestEpoch = curve.count }
        let overfitting: Bool = {
            guard let last = curve.last, let lastVal = last.validationLoss, curve.count > bestEpoch else { return false }
            let trainBest = curve[bestEpoch - 1].trainLoss
            return lastVal > bestLoss * 1.1 && last.trainLoss < trainBest * 0.9
        }()
        return Result(head: best, curve: curve, bestEpoch: bestEpoch, overfitting: overfitting)
    }
}
