import DICOM
import Evaluation
import Foundation
import Imaging
import Models

/// Training a head on a cohort: split by patient → cached embeddings → fitted head →
/// `head.safetensors`, `model.json` (backbone, data summary and labels hash, split sizes,
/// hyperparameters, curves, validation metrics with intervals, overfitting flag) and `curves.png`
/// in the output folder. `Pipeline.TrainJob` resolves the labels against the index and registers
/// the written card so that `score` can use it at once.
public struct TrainingRun {
    public struct Options {
        public var head = "custom"
        public var classes = ["NEGATIVE", "POSITIVE"]
        public var backbone = "efficientnet-lite0"
        /// The backbone's model folder.
        public var backboneDirectory = "models/efficientnet-lite0"
        public var output = "models/custom"
        /// Share of patients held out for validation; 0 trains on everything (no held-out evaluation).
        public var validation = 0.2
        public var augmentation = Augmentation()
        public var hyper = Trainer.Hyperparameters()
        public var routing: [[String: [String?]]] = []
        /// "breast" to black out what is not breast in training and (through the card) scoring.
        public var mask: String?
        public var aggregation = "max"
        public var threshold = 0.5
        public var cacheDirectory = ".cache/features"
        public var warning: String?
        /// What the SR codes the finding as, and the procedure reported: (value, scheme, meaning).
        public var findingCode: (value: String, scheme: String, meaning: String)?
        public var procedureCode: (value: String, scheme: String, meaning: String)?
        public var version = "0"
        /// When set, the hyperparameters are chosen by cross-validated search first.
        public var search: HyperparameterSearch?
        /// When set, the configuration is cross-validated on every non-test image (the validation
        /// share is ignored) and the final head is trained on all of them.
        public var crossValidation: CrossValidation.Scheme?
        public init() {}
    }

    public struct Outcome {
        public var result: Trainer.Result
        public var trainSize: Int, validationSize: Int, patients: Int
        public var validationAUROC: Double?
        public var validationInterval: (Double, Double)?
        public var cardPath: String
        public var hyper: Trainer.Hyperparameters
        public var trials: [HyperparameterSearch.Trial] = []
        public var crossValidation: CrossValidation.Report?
        /// The card as written (JSON) and the head's weights sha256, to register.
        public var cardJSON = ""
        public var weightsSha256 = ""
    }

    /// The labels file the cohort came from, as the card records it.
    public struct LabelsSource: Sendable {
        public var path: String
        public var sha256: String
        /// Whether the file gave splits (then no patient split is drawn).
        public var hasSplits: Bool
        public init(path: String, sha256: String, hasSplits: Bool) {
            self.path = path
            self.sha256 = sha256
            self.hasSplits = hasSplits
        }
    }

    public let cohort: Cohort
    public let labels: LabelsSource
    public let options: Options

    public init(cohort: Cohort, labels: LabelsSource, options: Options) {
        self.cohort = cohort
        self.labels = labels
        self.options = options
    }

    public func run(log: @escaping (String) -> Void) throws -> Outcome {
        var cohort = self.cohort
        let explicitSplits = labels.hasSplits
        if options.crossValidation != nil {
            guard options.search == nil else {
                throw TrainingError(file: "--cv", reason: "--cv evaluates one configuration and --search chooses one: run them one at a time")
            }
            // Every non-test image takes part in the folds, and the final head trains on all of them.
            for i in cohort.examples.indices where cohort.examples[i].split != .test { cohort.examples[i].split = .train }
        } else if !explicitSplits {
            if options.validation > 0 { cohort.splitByPatient(validation: options.validation, seed: options.hyper.seed) }
            else { for i in cohort.examples.indices { cohort.examples[i].split = .train } }
        }
        try cohort.checkSplits(requireValidation: options.validation > 0 && options.crossValidation == nil)
        let train = cohort.examples(.train), validation = cohort.examples(.val)
        log("cohort: \(cohort.examples.count) images of \(cohort.patients.count) patients; train \(train.count), validation \(validation.count)")

        let backbone = try Classifier(directory: options.backboneDirectory)
        let extractor = FeatureExtractor(backbone: backbone, cacheDirectory: options.cacheDirectory, augmentation: options.augmentation,
                                         mask: options.mask)
        // Training rows first, then validation rows; validation rows need augmented copies only when a
        // search folds them into training.
        let examples = train + validation
        let trainIndices = Array(train.indices), validationIndices = Array(train.count..<examples.count)
        let inputs = TrainingInputs(examples: examples, backbone: backbone, extractor: extractor,
                                    plain: options.search == nil ? Set(validationIndices) : [], log: log)

        var hyper = options.hyper
        var trials: [HyperparameterSearch.Trial] = []
        var crossValidated: CrossValidation.Report?
        if let scheme = options.crossValidation {
            let report = try CrossValidation(scheme: scheme).run(inputs, hyper: hyper, classes: options.classes.count, log: log)
            crossValidated = report
            var line = "cross-validation (\(scheme.name), \(report.folds) folds, \(report.scored) of \(examples.count) images predicted)"
            if let auroc = report.auroc { line += String(format: ": AUROC %.3f", auroc) }
            if let ci = report.interval { line += String(format: " (95%% bootstrap CI %.3f–%.3f)", ci.0, ci.1) }
            if let ll = report.logLoss { line += String(format: ", log loss %.3f", ll) }
            log(line + "; " + scheme.meaning)
        }
        if let search = options.search {
            // Cross-validation over every non-test example (validation rows rejoin as folds).
            (hyper, trials) = try search.run(inputs, classes: options.classes.count, base: options.hyper, log: log)
            log("search: chose \(hyper.head), unfreeze \(hyper.unfreeze), lr \(hyper.learningRate), weight decay \(hyper.weightDecay)")
        }

        let result = try inputs.fit(hyper, train: trainIndices, validation: validationIndices, classes: options.classes.count) { e in
            log(String(format: "epoch %3d  train loss %.4f", e.epoch, e.trainLoss)
                + (e.validationLoss.map { String(format: "  validation loss %.4f", $0) } ?? "")
                + (e.trainAUROC.map { String(format: "  train AUROC %.3f", $0) } ?? "")
                + (e.validationAUROC.map { String(format: "  validation AUROC %.3f", $0) } ?? "") + String(format: "  %.2f s", e.seconds))
        }
        for reason in result.overfittingReasons { log("warning: training and validation diverge (overfitting): \(reason)") }
        var auroc: Double?, interval: (Double, Double)?
        if !validation.isEmpty && options.classes.count == 2 {
            let scores = try inputs.logits(result, hyper, of: validationIndices).map { Double(softmax($0)[1]) }
            let evaluation = BinaryEvaluation(scores: scores, labels: validation.map(\.label))
            auroc = evaluation.auroc
            interval = Bootstrap(replicates: 1000, seed: options.hyper.seed).intervals(evaluation, threshold: 0.5, bins: 15)["auroc"]
        }
        let outcome = Outcome(result: result, trainSize: train.count, validationSize: validation.count,
                              patients: cohort.patients.count, validationAUROC: auroc, validationInterval: interval,
                              cardPath: "\(options.output)/model.json", hyper: hyper, trials: trials, crossValidation: crossValidated)
        var written = outcome
        written.weightsSha256 = try write(outcome, backbone: backbone, cohort: cohort)
        if options.routing.contains(where: { $0["modality"]?.contains("MG") ?? false }) {
            try reportAttention(on: validation.isEmpty ? train : validation, heldOut: !validation.isEmpty, log: log)
        }
        written.cardJSON = try String(contentsOfFile: "\(options.output)/model.json", encoding: .utf8)
        return written
    }

    /// Mammography heads: how much of each heatmap falls outside the breast (validation images, or
    /// the training images when none are held out), printed, stored on the card, warned about.
    func reportAttention(on examples: [Cohort.Example], heldOut: Bool, log: (String) -> Void) throws {
        let classifier = try Classifier(directory: options.output, search: ModelSearch(folders: [URL(fileURLWithPath: options.backboneDirectory).deletingLastPathComponent().path]))
        let shares = try RegionAttention.outsideBreast(classifier: classifier, card: classifier.card, paths: examples.map(\.instance.path))
        guard !shares.isEmpty else { return }
        let mean = shares.map(\.outside).reduce(0, +) / Double(shares.count)
        log(String(format: "heatmap mass outside the breast (%@ images): mean %.1f%%, highest %.1f%%",
                   heldOut ? "validation" : "training", 100 * mean, 100 * (shares.map(\.outside).max() ?? 0)))
        let warnings = RegionAttention.warnings(shares)
        for w in warnings { log("warning: \(w)") }
        let path = "\(options.output)/model.json"
        guard var card = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
              var training = card["training"] as? [String: Any] else { return }
        training["heatmap_outside_breast"] = [
            "images": heldOut ? "validation" : "training (none held out)",
            "mean": mean, "flagged": !warnings.isEmpty, "warnings": warnings,
            "per_image": shares.map { ["file": URL(fileURLWithPath: $0.path).lastPathComponent, "share": $0.outside] as [String: Any] },
        ] as [String: Any]
        card["training"] = training
        let json = try JSONSerialization.data(withJSONObject: card, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try json.write(to: URL(fileURLWithPath: path))
    }

    func softmax(_ z: [Float]) -> [Float] {
        let m = z.max()!
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// Writes the head's folder; returns the weights' sha256.
    func write(_ o: Outcome, backbone: Classifier, cohort: Cohort) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: options.output, withIntermediateDirectories: true)
        let head = o.result.head
        var tensors: [(name: String, shape: [Int], values: [Float])]
        switch head.kind {
        case .prototype:
            tensors = [("prototypes", [head.classes, head.inputs], head.parameters[0]), ("temperature", [1], [head.temperature])]
        case .linear:
            tensors = [("dense1.weight", [head.classes, head.inputs], head.parameters[0]), ("dense1.bias", [head.classes], head.parameters[1])]
        case .mlp:
            tensors = [("dense1.weight", [head.hidden, head.inputs], head.parameters[0]), ("dense1.bias", [head.hidden], head.parameters[1]),
                       ("dense2.weight", [head.classes, head.hidden], head.parameters[2]), ("dense2.bias", [head.classes], head.parameters[3])]
        }
        if head.kind != .prototype {
            tensors += [("input_mean", [head.inputs], head.mean), ("input_scale", [head.inputs], head.scale)]
        }
        // Retrained backbone blocks, packed as the engine runs them (see LayerParameters).
        tensors += o.result.tail.enumerated().map { ("tail.\($0)", [$1.count], $1) }
        let weightsPath = "\(options.output)/head.safetensors"
        try SafeTensorsWriter.write(tensors, metadata: ["head": options.head, "backbone": options.backbone,
                                                        "unfrozen_blocks": String(o.hyper.unfreeze)], to: weightsPath)
        let sha = try ContentHash.sha256(file: weightsPath)
        try LearningCurves.png(o.result.curve, bestEpoch: o.result.bestEpoch, to: "\(options.output)/curves.png")

        let card = try card(o, backbone: backbone, cohort: cohort, weightsSha: sha)
        let json = try JSONSerialization.data(withJSONObject: card, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try json.write(to: URL(fileURLWithPath: "\(options.output)/model.json"))
        return sha
    }

    func card(_ o: Outcome, backbone: Classifier, cohort: Cohort, weightsSha: String) throws -> [String: Any] {
        let base = backbone.card
        let counts = Dictionary(grouping: cohort.examples, by: { options.classes[$0.label] }).mapValues(\.count)
        var metrics: [String: Any] = ["validation_images": o.validationSize]
        var crossValidation: Any = NSNull()
        if let auroc = o.validationAUROC { metrics["validation_auroc"] = auroc }
        if let ci = o.validationInterval { metrics["validation_auroc_95ci"] = [ci.0, ci.1] }
        if o.validationSize == 0 && o.crossValidation == nil { metrics["note"] = "no held-out evaluation" }
        if let cv = o.crossValidation {
            var entry: [String: Any] = ["scheme": cv.scheme.name, "folds": cv.folds, "skipped_folds": cv.skippedFolds,
                                        "images_predicted": cv.scored, "meaning": cv.scheme.meaning,
                                        "pooling": "out-of-fold probabilities of every image pooled into one AUROC; 95% stratified percentile bootstrap over images (2000 replicates)"]
            if let a = cv.auroc { entry["auroc"] = a; metrics["cross_validated_auroc"] = a }
            if let ci = cv.interval { entry["auroc_95ci"] = [ci.0, ci.1]; metrics["cross_validated_auroc_95ci"] = [ci.0, ci.1] }
            if let ll = cv.logLoss { entry["log_loss"] = ll }
            entry["out_of_fold_probabilities"] = cv.probabilities.map { $0 ?? NSNull() as Any }
            // The card's metrics are flat (numbers, intervals, text: what ModelCard and the reports
            // read); the details go with the training record.
            metrics["cross_validation"] = "\(cv.scheme.name), \(cv.folds) folds, \(cv.scored) images: \(cv.scheme.meaning)"
            if cv.scheme == .images {
                metrics["note"] = "no patient-level evaluation: the leave-one-image-out AUROC checks the pipeline, it does not estimate accuracy on new patients"
            }
            crossValidation = entry
        }
        let hyper = try JSONSerialization.jsonObject(with: JSONEncoder().encode(o.hyper))
        var search: Any = NSNull()
        if let s = options.search {
            search = ["method": s.method, "folds": s.folds, "selection": "lowest mean cross-validated loss, folds by patient",
                      "trials": o.trials.map { t in
                          ["head": t.hyper.head, "unfreeze": t.hyper.unfreeze, "learning_rate": t.hyper.learningRate, "weight_decay": t.hyper.weightDecay,
                           "fold_losses": t.foldLosses, "mean_loss": t.meanLoss, "mean_auroc": t.meanAUROC ?? NSNull()] as [String: Any]
                      }]
        }
        return [
            "name": options.head, "head": options.head, "backbone": options.backbone, "head_type": head(o).kind.rawValue,
            "unfrozen_blocks": o.hyper.unfreeze,
            "architecture": base.architecture, "batchnorm_epsilon": base.batchnormEpsilon,
            "input": ["height": base.input.height, "width": base.input.width, "channels": base.input.channels,
                      "color": base.input.color, "resize": base.forTraining.input.resize, "mask": options.mask.map { $0 as Any } ?? NSNull(),
                      "normalization": ["scale": base.input.normalization.scale, "offset": base.input.normalization.offset]],
            "classes": options.classes, "output": "softmax", "weights_sha256": weightsSha,
            "backbone_weights_sha256": base.weightsSha256 ?? "",
            "license": "trained by dxkit on the user's data; backbone: \(base.license ?? "see backbone")",
            "intended_use": options.warning ?? "Research use; validate on your own population before any use.",
            "warning": options.warning ?? NSNull(),
            "training_data": "\(cohort.examples.count) images of \(cohort.patients.count) patients (\(counts.keys.sorted().map { "\($0): \(counts[$0]!)" }.joined(separator: ", "))); labels \(URL(fileURLWithPath: labels.path).lastPathComponent) sha256 \(labels.sha256)",
            "training": [
                "labels_sha256": labels.sha256, "labels_file": labels.path, "split_sizes": ["train": o.trainSize, "validation": o.validationSize],
                "patients": o.patients, "hyperparameters": hyper, "augmentation": options.augmentation.summary,
                "best_epoch": o.result.bestEpoch, "overfitting": o.result.overfitting,
                "overfitting_reasons": o.result.overfittingReasons, "search": search, "cross_validation": crossValidation,
                "standardisation": "per feature (x − training mean) / max(training deviation, \(Standardisation.floorFraction) × RMS of all features' deviations)",
                "curve": o.result.curve.map { ["epoch": $0.epoch, "train_loss": $0.trainLoss, "validation_loss": $0.validationLoss ?? NSNull(),
                                              "train_auroc": $0.trainAUROC ?? NSNull(),
                                              "validation_auroc": $0.validationAUROC ?? NSNull(), "seconds": $0.seconds] as [String: Any] },
                "dxkit_version": options.version,
            ],
            "metrics": metrics,
            "scoring": [
                "finding_code": options.findingCode.map { ["value": $0.value, "scheme": $0.scheme, "meaning": $0.meaning] as Any } ?? NSNull(),
                "procedure_code": options.procedureCode.map { ["value": $0.value, "scheme": $0.scheme, "meaning": $0.meaning] as Any } ?? NSNull(),
                "routing": ["accept_any": options.routing.map { $0.mapValues { $0.map { $0 ?? NSNull() as Any } } }],
                "positive_class": options.classes.last!, "threshold": options.threshold,
                "aggregation": ["rule": options.aggregation,
                                "description": options.aggregation == "laterality-mean-max"
                                    ? "per breast: mean over its views (CC, MLO); study: the higher breast"
                                    : "study probability = the highest probability among its images"],
            ],
        ]
    }

    func head(_ o: Outcome) -> HeadModel { o.result.head }
}
