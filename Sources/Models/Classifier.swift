import Engine
import Foundation

/// A loaded network: backbone features plus its classification head, built from a model folder
/// (`model.json` + `model.safetensors`). `logits` runs a batch through both, as an
/// `ExecutionPlan` says.
public final class Classifier: @unchecked Sendable {
    public let card: ModelCard
    public let directory: String
    /// The backbone's layers as built (what training reads and rebuilds).
    public let features: Sequential
    public let head: Sequential
    /// `features` and `head` as they run: through the fusion step (`Fusion.plan`), once, at load.
    let runFeatures: Layer, runHead: Layer

    /// Loads the model in `directory`. A head trained by dxkit names its backbone and the backbone's
    /// weights sha256: the backbone is taken from the folder beside the head when it has those
    /// weights, else from the first of `search`'s folders (default: DXKIT_MODELS, the install
    /// location, ./models) that does.
    public convenience init(directory: String, search: ModelSearch? = nil) throws {
        try self.init(card: ModelCard.load("\(directory)/model.json"), directory: directory, search: search)
    }

    /// The model in `directory` whose card has already been read.
    public init(card: ModelCard, directory: String, search: ModelSearch? = nil) throws {
        self.directory = directory
        self.card = card
        if let backbone = card.backbone, let type = card.headType {
            // A trained head: the backbone's features from its own folder, the head from head.safetensors.
            let sibling = URL(fileURLWithPath: directory).standardizedFileURL.deletingLastPathComponent().path
            let searched = ModelSearch(folders: [sibling] + ((search ?? (try? ModelSearch(explicit: [])))?.all ?? []))
            guard let folder = searched.folder(named: backbone, sha256: card.backboneWeightsSha256) else {
                throw ModelError(file: "\(directory)/model.json",
                                 reason: "its backbone \(backbone) (weights sha256 \(card.backboneWeightsSha256 ?? "?")) is not beside it nor in \(searched.lookedDescription)")
            }
            let base = try Classifier(directory: folder)
            let file = try SafeTensors(path: "\(directory)/head.safetensors")
            features = try TrainedHead.features(base.features, unfrozen: card.unfrozenBlocks ?? 0, file: file)
            head = try TrainedHead.layers(file, type: type)
            (runFeatures, runHead) = (Fusion.plan(features), Fusion.plan(head))
            return
        }
        let weights = Weights(file: try SafeTensors(path: "\(directory)/model.safetensors"),
                              batchNormEpsilon: card.batchnormEpsilon)
        switch card.architecture {
        case "xception":
            features = try Xception.features(weights)
            head = try PneumoniaHead.layers(weights)
        case "mobilenet-v2":
            features = try MobileNetV2.features(weights)
            head = try MobileNetV2.classifier(weights)
        case "efficientnet-lite0":
            features = try EfficientNetLite0.features(weights)
            head = try EfficientNetLite0.classifier(weights)
        case "onnx-graph":
            (features, head) = try ImportedGraph.layers(card: card, directory: directory, weights: weights.file)
        case "densenet-121":
            features = try DenseNet121.features(weights)
            head = try DenseNet121.classifier(weights)
        case "resnet-50":
            features = try ResNet50.features(weights)
            head = try ResNet50.classifier(weights)
        default:
            throw ModelError(file: "\(directory)/model.json", reason: "unknown architecture \(card.architecture)")
        }
        (runFeatures, runHead) = (Fusion.plan(features), Fusion.plan(head))
    }

    /// [N, 3, H, W] → [N, classes], run as `plan` says (the backbone on `plan.threads` cores, a
    /// micro-batch each; the head once over the whole batch: its weights are read once, not once
    /// per micro-batch; its operations shared among the cores as the backbone's are).
    public func logits(_ batch: Tensor, plan: ExecutionPlan = .default) -> Tensor { featuresAndLogits(batch, plan: plan).logits }

    /// The backbone's feature maps (NHWC) and the head's logits, run as `plan` says.
    public func featuresAndLogits(_ batch: Tensor, plan: ExecutionPlan = .default) -> (features: Tensor, logits: Tensor) {
        let f = Parallelism.forward(runFeatures, batch, plan: plan)
        return (f, runHead.forward(f, Parallelism.perCore(plan, batch: batch.batch)))
    }

    /// Softmax over each row of `logits`; for a multi-label card (`"output": "sigmoid"`) each
    /// output's own sigmoid.
    public func probabilities(_ logits: Tensor) -> [[Float]] {
        let k = logits.count / logits.batch
        let sigmoid = card.isMultiLabel
        return (0..<logits.batch).map {
            let row = Array(logits.data[($0 * k)..<($0 * k + k)])
            return sigmoid ? row.map(Probabilities.sigmoid) : Probabilities.softmax(row)
        }
    }
}

/// The pneumonia head of the Keras model: global average pooling → Dense(128, ReLU) →
/// (Dropout, inactive at inference) → Dense(2) logits [NORMAL, PNEUMONIA].
public enum PneumoniaHead {
    public static func layers(_ w: Weights) throws -> Sequential {
        Sequential([GlobalAveragePool(), try w.dense("head_dense1", in: 2048, out: 128, activation: .relu),
                    try w.dense("head_dense2", in: 128, out: 2)])
    }
}
