import Evaluation
import Foundation

/// Fits a head on cached embeddings: Adam with an L2 penalty (see `AdamW`) and a cosine or step
/// schedule, class weights for imbalance, early stopping on validation loss keeping the best epoch
/// (unless `earlyStopping` is off: then every epoch runs and the last is kept). Deterministic for a seed.
/// The same epoch loop fine-tunes a backbone's last blocks with the head (see `FineTuner`).
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
        /// Backbone blocks retrained with the head (0: frozen backbone, cached embeddings).
        public var unfreeze = 0
        /// The unfrozen blocks' learning rate as a share of the head's.
        public var backboneLearningRateScale: Float = 0.1
        /// Stop when validation loss has not improved for `patience` epochs and keep the best
        /// epoch; when false, run every epoch and keep the last (the penalised optimum, for a
        /// linear head, once enough epochs have run). Cross-validation folds never early-stop on
        /// their held-out patients.
        public var earlyStopping = true
        public init() {}
    }

    public struct Epoch: Codable, Sendable {
        public var epoch: Int
        /// Mean weighted cross-entropy on the training set at the end of the epoch, measured as
        /// validation is (no dropout, the epoch's final weights), so the two compare directly.
        public var trainLoss: Float
        public var validationLoss: Float?
        /// Training-set AUROC at the end of the epoch (two-class heads).
        public var trainAUROC: Double?
        /// Validation AUROC of the positive (last) class, for two-class heads with both classes held out.
        public var validationAUROC: Double?
        /// Wall time of the epoch, validation included.
        public var seconds: Double = 0
    }

    public struct Result: Sendable {
        public var head: HeadModel
        /// Tensors of the retrained backbone blocks (`LayerParameters` order); empty when frozen.
        public var tail: [[Float]] = []
        public var curve: [Epoch]
        public var bestEpoch: Int
        /// Training and validation diverge (see `Trainer.overfitting`); `overfittingReasons` says how.
        public var overfitting: Bool
        public var overfittingReasons: [String] = []
    }

    public let hyper: Hyperparameters

    public init(_ hyper: Hyperparameters) { self.hyper = hyper }

    /// `train`: embeddings (augmented copies included) with labels; `validation` may be empty.
    public func fit(train: [([Float], Int)], validation: [([Float], Int)], classes: Int,
                    progress: (Epoch) -> Void = { _ in }) throws -> Result {
        guard !train.isEmpty else { throw TrainingError(file: "training", reason: "no training examples") }
        let kind = try headKind()
        let weights = Self.classWeights(train.map(\.1), classes: classes)
        var head = initialHead(kind, embeddings: train.map(\.0), classes: classes)
        if kind == .prototype {
            head.fitPrototypes(train.map(\.0), train.map(\.1))
            let held = validation.isEmpty ? nil : Self.validation(validation.map { head.logits($0.0) }, validation.map(\.1), weights: weights)
            let fitted = Self.validation(train.map { head.logits($0.0) }, train.map(\.1), weights: weights)
            let epoch = Epoch(epoch: 1, trainLoss: fitted.loss, validationLoss: held?.loss, trainAUROC: fitted.auroc,
                              validationAUROC: held?.auroc)
            progress(epoch)
            let reasons = Self.overfitting([epoch], bestEpoch: 1, bestLoss: held?.loss ?? .infinity)
            return Result(head: head, curve: [epoch], bestEpoch: 1, overfitting: !reasons.isEmpty, overfittingReasons: reasons)
        }
        let model = HeadOnEmbeddings(head: head, optimizer: AdamW(shapes: head.parameters, learningRate: hyper.learningRate,
                                                                   weightDecay: hyper.weightDecay, decoupled: false),
                                     train: train, validation: validation, weights: weights)
        let (best, curve, bestEpoch, reasons) = try loop(model, count: train.count, progress: progress)
        return Result(head: best.head, curve: curve, bestEpoch: bestEpoch, overfitting: !reasons.isEmpty, overfittingReasons: reasons)
    }

    func headKind() throws -> HeadModel.Kind {
        guard let kind = HeadModel.Kind(rawValue: hyper.head) else {
            throw TrainingError(file: "--head-type", reason: "unknown head type \(hyper.head) (linear, mlp, prototype)")
        }
        return kind
    }

    /// A fresh head whose input standardisation comes from the training embeddings (`Standardisation`).
    func initialHead(_ kind: HeadModel.Kind, embeddings: [[Float]], classes: Int) -> HeadModel {
        let (mean, scale) = Standardisation.fit(embeddings)
        return HeadModel(kind: kind, inputs: embeddings[0].count, hidden: hyper.hidden, classes: classes, mean: mean, scale: scale,
                         seed: hyper.seed)
    }

    /// Inverse class frequency, so each class weighs the same in the loss.
    static func classWeights(_ labels: [Int], classes: Int) -> [Float] {
        let counts = (0..<classes).map { c in Float(labels.filter { $0 == c }.count) }
        return counts.map { $0 > 0 ? Float(labels.count) / (Float(classes) * $0) : 0 }
    }

    /// The epoch loop: schedule, seeded shuffles, early stopping on validation loss keeping the best
    /// epoch (without a validation set, or with `earlyStopping` off, the last epoch is kept), and
    /// the overfitting verdict.
    func loop<M: EpochModel>(_ start: M, count: Int, progress: (Epoch) -> Void) throws
        -> (best: M, curve: [Epoch], bestEpoch: Int, overfitting: [String]) {
        var model = start
        var rng = SplitMix64(seed: hyper.seed &+ 1)
        var order = Array(0..<count)
        var curve: [Epoch] = []
        var best = model, bestLoss = Float.infinity, bestEpoch = 1, sinceBest = 0
        for epoch in 1...max(1, hyper.epochs) {
            let started = DispatchTime.now().uptimeNanoseconds
            let rate: Float
            switch hyper.schedule {
            case "step": rate = hyper.learningRate * pow(0.1, Float((epoch - 1) / max(1, hyper.epochs / 3)))
            default: rate = hyper.learningRate * 0.5 * (1 + cos(.pi * Float(epoch - 1) / Float(max(1, hyper.epochs))))
            }
            rng.shuffle(&order)
            var total: Float = 0
            for first in stride(from: 0, to: order.count, by: max(1, hyper.batch)) {
                let batch = Array(order[first..<min(first + hyper.batch, order.count)])
                total += try model.step(batch, rate: rate, rng: &rng) * Float(batch.count)
            }
            guard total.isFinite else {
                throw TrainingError(file: "training", reason: "diverged at epoch \(epoch): the training loss is not a number; try a lower --lr")
            }
            try model.endEpoch()
            let fitted = try model.onTrainingSet()
            let held = try model.heldOut()
            let validationLoss = held?.loss
            let record = Epoch(epoch: epoch, trainLoss: fitted.loss, validationLoss: validationLoss, trainAUROC: fitted.auroc,
                               validationAUROC: held?.auroc, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            curve.append(record)
            progress(record)
            let monitored = validationLoss ?? record.trainLoss
            if monitored < bestLoss - 1e-6 {
                bestLoss = monitored; best = model; bestEpoch = epoch; sinceBest = 0
            } else {
                sinceBest += 1
                if hyper.earlyStopping && validationLoss != nil && sinceBest >= hyper.patience { break }
            }
        }
        if curve.last?.validationLoss == nil || !hyper.earlyStopping { best = model; bestEpoch = curve.count }
        return (best, curve, bestEpoch, Self.overfitting(curve, bestEpoch: bestEpoch, bestLoss: bestLoss))
    }

    /// Why training and validation diverge, if they do (empty: no sign of it, or no validation set):
    /// at the kept epoch, validation loss at least twice the training loss and 0.05 above it
    /// (e.g. 0.006 against 0.1), or training AUROC 0.1 or more above validation AUROC; or, later
    /// on, validation loss rising 10% above its best while training loss kept falling.
    static func overfitting(_ curve: [Epoch], bestEpoch: Int, bestLoss: Float) -> [String] {
        guard curve.indices.contains(bestEpoch - 1), let validation = curve[bestEpoch - 1].validationLoss else { return [] }
        let kept = curve[bestEpoch - 1]
        var reasons: [String] = []
        if validation >= 2 * kept.trainLoss && validation - kept.trainLoss >= 0.05 {
            reasons.append(String(format: "at the kept epoch %d, validation loss %.4f against training loss %.4f", bestEpoch, validation, kept.trainLoss))
        }
        if let a = kept.trainAUROC, let b = kept.validationAUROC, a - b >= 0.1 {
            reasons.append(String(format: "at the kept epoch %d, validation AUROC %.3f against training AUROC %.3f", bestEpoch, b, a))
        }
        if let last = curve.last, let lastValidation = last.validationLoss, curve.count > bestEpoch,
           lastValidation > bestLoss * 1.1, last.trainLoss < kept.trainLoss * 0.9 {
            reasons.append(String(format: "validation loss rose from %.4f (epoch %d) to %.4f (epoch %d) while training loss fell to %.4f",
                                  bestLoss, bestEpoch, lastValidation, last.epoch, last.trainLoss))
        }
        return reasons
    }
}

/// What the epoch loop trains: a value whose copies are checkpoints.
protocol EpochModel {
    /// One optimisation step on the training examples at `batch`; returns their mean loss.
    mutating func step(_ batch: [Int], rate: Float, rng: inout SplitMix64) throws -> Float
    /// Loss and AUROC on the validation set (see `Trainer.validation`), nil without one.
    func heldOut() throws -> (loss: Float, auroc: Double?)?
    /// The same on the training set (no dropout).
    func onTrainingSet() throws -> (loss: Float, auroc: Double?)
    /// Work at the end of each epoch, before it is measured and checkpointed.
    mutating func endEpoch() throws
}

extension EpochModel {
    mutating func endEpoch() throws {}
}

extension Trainer {
    /// Mean weighted cross-entropy of held-out logits and, for two classes, the AUROC of the positive class.
    static func validation(_ logits: [[Float]], _ labels: [Int], weights: [Float]) -> (loss: Float, auroc: Double?) {
        let loss = HeadModel.crossEntropy(logits, labels, weights: weights)
        guard logits.first?.count == 2 else { return (loss, nil) }
        let scores = logits.map { Double(1 / (1 + exp($0[0] - $0[1]))) }
        return (loss, BinaryEvaluation(scores: scores, labels: labels).auroc)
    }
}

/// A head trained on fixed embeddings.
struct HeadOnEmbeddings: EpochModel {
    var head: HeadModel
    var optimizer: AdamW
    let train: [([Float], Int)], validation: [([Float], Int)]
    let weights: [Float]

    mutating func step(_ batch: [Int], rate: Float, rng: inout SplitMix64) -> Float {
        let (loss, grads, _) = head.lossAndGradient(batch.map { train[$0].0 }, batch.map { train[$0].1 }, weights: weights, rng: &rng)
        optimizer.update(&head.parameters, grads, rate: rate)
        return loss
    }

    func heldOut() -> (loss: Float, auroc: Double?)? {
        validation.isEmpty ? nil : Trainer.validation(validation.map { head.logits($0.0) }, validation.map(\.1), weights: weights)
    }

    func onTrainingSet() -> (loss: Float, auroc: Double?) {
        Trainer.validation(train.map { head.logits($0.0) }, train.map(\.1), weights: weights)
    }
}
