import Evaluation
import Foundation

/// Per-output binary cross-entropy of a linear multi-label (sigmoid) head, with missing labels
/// masked: a target `nil` takes no part in that output's loss (it is not counted as negative).
/// The loss is the mean over the observed (image, finding) pairs of
/// max(z, 0) − z·y + log(1 + e^−|z|), z = W·standardise(x) + b; weight decay is added by the optimiser.
public enum MultiLabelLoss {
    /// Loss and gradient ([dW (outputs×inputs), db]) of a batch for a linear `head`.
    public static func lossAndGradient(_ head: HeadModel, _ xs: [[Float]], _ targets: [[Float?]]) -> (loss: Float, grads: [[Float]]) {
        var grads = head.parameters.map { [Float](repeating: 0, count: $0.count) }
        var loss: Double = 0, observed = 0
        var dz: [(row: [Float], x: [Float])] = []
        for (x0, y) in zip(xs, targets) {
            let x = head.standardise(x0)
            let z = HeadModel.affine(head.parameters[0], head.parameters[1], x, rows: head.classes, cols: head.inputs)
            var d = [Float](repeating: 0, count: head.classes)
            for k in 0..<head.classes {
                guard let t = y[k] else { continue }
                observed += 1
                loss += Double(bce(z[k], t))
                d[k] = sigmoid(z[k]) - t
            }
            dz.append((d, x))
        }
        let n = Float(max(observed, 1))
        for (d, x) in dz {
            for k in 0..<head.classes where d[k] != 0 {
                let g = d[k] / n
                grads[1][k] += g
                for i in 0..<head.inputs { grads[0][k * head.inputs + i] += g * x[i] }
            }
        }
        return (Float(loss / Double(max(observed, 1))), grads)
    }

    /// Mean masked binary cross-entropy of `logits` against `targets` (no gradient).
    public static func loss(_ logits: [[Float]], _ targets: [[Float?]]) -> Float {
        var loss: Double = 0, observed = 0
        for (z, y) in zip(logits, targets) {
            for k in z.indices { if let t = y[k] { loss += Double(bce(z[k], t)); observed += 1 } }
        }
        return Float(loss / Double(max(observed, 1)))
    }

    /// Each output's AUROC over the images labelled for it (nil where its labels hold one class).
    public static func aurocs(_ logits: [[Float]], _ targets: [[Float?]]) -> [Double?] {
        guard let outputs = logits.first?.count else { return [] }
        return (0..<outputs).map { k in
            let pairs = zip(logits, targets).compactMap { z, y in y[k].map { (Double(sigmoid(z[k])), Int($0)) } }
            return BinaryEvaluation(scores: pairs.map(\.0), labels: pairs.map(\.1)).auroc
        }
    }

    /// Mean of the defined AUROCs (the epoch curve's one number).
    static func meanAUROC(_ values: [Double?]) -> Double? {
        let defined = values.compactMap { $0 }
        return defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count)
    }

    @inline(__always) public static func sigmoid(_ z: Float) -> Float { 1 / (1 + exp(-z)) }

    @inline(__always) static func bce(_ z: Float, _ y: Float) -> Float { max(z, 0) - z * y + log1p(exp(-abs(z))) }
}

/// A linear multi-label head trained on fixed embeddings by the shared epoch loop (`Trainer.loop`).
struct MultiLabelOnEmbeddings: EpochModel {
    var head: HeadModel
    var optimizer: AdamW
    let train: [([Float], [Float?])], validation: [([Float], [Float?])]

    mutating func step(_ batch: [Int], rate: Float, rng: inout SplitMix64) -> Float {
        let (loss, grads) = MultiLabelLoss.lossAndGradient(head, batch.map { train[$0].0 }, batch.map { train[$0].1 })
        optimizer.update(&head.parameters, grads, rate: rate)
        return loss
    }

    func measure(_ set: [([Float], [Float?])]) -> (loss: Float, auroc: Double?) {
        let logits = set.map { head.logits($0.0) }, targets = set.map(\.1)
        return (MultiLabelLoss.loss(logits, targets), MultiLabelLoss.meanAUROC(MultiLabelLoss.aurocs(logits, targets)))
    }

    func heldOut() -> (loss: Float, auroc: Double?)? { validation.isEmpty ? nil : measure(validation) }

    func onTrainingSet() -> (loss: Float, auroc: Double?) { measure(train) }
}

extension Trainer {
    /// Fits a linear multi-label head: one sigmoid output per finding, masked binary
    /// cross-entropy (`MultiLabelLoss`) + (weight decay / 2)·‖W‖², the softmax heads' standardisation,
    /// optimiser, schedule and early stopping. Targets are 0/1, or nil where an image is not labelled.
    public func fitMultiLabel(train: [([Float], [Float?])], validation: [([Float], [Float?])], outputs: Int,
                              progress: (Epoch) -> Void = { _ in }) throws -> Result {
        guard !train.isEmpty else { throw TrainingError(file: "training", reason: "no training examples") }
        guard hyper.head == "linear", hyper.unfreeze == 0 else {
            throw TrainingError(file: "--multilabel", reason: "multi-label heads are linear on frozen features")
        }
        let head = initialHead(.linear, embeddings: train.map(\.0), classes: outputs)
        let model = MultiLabelOnEmbeddings(head: head, optimizer: AdamW(shapes: head.parameters, learningRate: hyper.learningRate,
                                                                         weightDecay: hyper.weightDecay, decoupled: false),
                                           train: train, validation: validation)
        let (best, curve, bestEpoch, reasons) = try loop(model, count: train.count, progress: progress)
        return Result(head: best.head, curve: curve, bestEpoch: bestEpoch, overfitting: !reasons.isEmpty, overfittingReasons: reasons)
    }
}
