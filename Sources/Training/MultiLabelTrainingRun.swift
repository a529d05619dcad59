import DICOM
import Evaluation
import Foundation
import Models

/// The labelled images of a multi-label training run: per image, a 0/1 target per finding (nil:
/// not labelled for it, masked out of that finding's loss) and the labels file's line of each.
public struct MultiLabelCohort: Sendable {
    public struct Example: Sendable {
        public var instance: TrainingImage
        public var targets: [Float?]
        public var lines: [Int?]
        public var split: Cohort.Split
        public init(instance: TrainingImage, targets: [Float?], lines: [Int?], split: Cohort.Split) {
            self.instance = instance
            self.targets = targets
            self.lines = lines
            self.split = split
        }
    }

    public var findings: [String]
    public var examples: [Example]
    /// The labels file, named in errors.
    public var file: String

    public init(findings: [String], examples: [Example], file: String) {
        self.findings = findings
        self.examples = examples
        self.file = file
    }

    /// Refuses a finding without a positive and a negative among `split` (nil: every image), naming the lines.
    public func checkBothLabels(in split: Cohort.Split?) throws {
        let chosen = examples.filter { split == nil || $0.split == split }
        var problems: [String] = []
        for (k, finding) in findings.enumerated() {
            let labelled = chosen.filter { $0.targets[k] != nil }
            let positives = labelled.filter { $0.targets[k] == 1 }.count
            guard positives == 0 || positives == labelled.count else { continue }
            let lines = Array(Set(labelled.compactMap { $0.lines[k] })).sorted().map(String.init).joined(separator: ", ")
            let which = split.map { "the \(chosen.count) \($0 == .train ? "training" : $0.rawValue) images" } ?? "the file"
            problems.append("finding \(finding) has \(positives == 0 ? "no positive" : "no negative") label among \(which)"
                            + (lines.isEmpty ? " (no row labels it)" : " (lines \(lines))") + "; each finding needs both")
        }
        if !problems.isEmpty { throw TrainingError(file: file, reason: problems.joined(separator: "; ")) }
    }
}

/// Training a linear multi-label head (one sigmoid output per finding) on a frozen backbone's
/// pooled features: the patient split, feature cache and input preparation of `TrainingRun`,
/// masked binary cross-entropy (`MultiLabelLoss`), then `head.safetensors` (the linear head's
/// tensors: `Classifier` loads it unchanged) and a sigmoid card with `scoring.findings`.
public struct MultiLabelTrainingRun {
    public struct Outcome {
        public var result: Trainer.Result
        public var trainSize: Int, validationSize: Int
        /// Per finding: validation AUROC (nil without validation images of both labels).
        public var validationAUROC: [Double?]
        /// Per finding: training AUROC and loss of the kept head.
        public var trainAUROC: [Double?], trainLoss: [Float]
        public var cardPath: String
        public var cardJSON = ""
        public var weightsSha256 = ""
    }

    public let cohort: MultiLabelCohort
    public let labels: TrainingRun.LabelsSource
    public let options: TrainingRun.Options

    public init(cohort: MultiLabelCohort, labels: TrainingRun.LabelsSource, options: TrainingRun.Options) {
        self.cohort = cohort
        self.labels = labels
        self.options = options
    }

    public func run(log: @escaping (String) -> Void) throws -> Outcome {
        var cohort = self.cohort
        try cohort.checkBothLabels(in: nil)
        if !labels.hasSplits {
            // Stratified by whether an image has any positive finding; no patient in two splits.
            var split = Cohort(classes: ["none", "any"], examples: cohort.examples.map {
                Cohort.Example(instance: $0.instance, label: $0.targets.contains(1) ? 1 : 0, split: .train)
            })
            if options.validation > 0 { split.splitByPatient(validation: options.validation, seed: options.hyper.seed) }
            for i in cohort.examples.indices { cohort.examples[i].split = split.examples[i].split }
        }
        let train = cohort.examples.filter { $0.split == .train }, validation = cohort.examples.filter { $0.split == .val }
        if options.validation > 0 && validation.isEmpty {
            throw TrainingError(file: labels.path, reason: "no validation images; use --validation none to train without held-out evaluation")
        }
        try cohort.checkBothLabels(in: .train)
        let patients = Set(cohort.examples.map(\.instance.patient)).count
        log("cohort: \(cohort.examples.count) images of \(patients) patients, \(cohort.findings.count) findings; train \(train.count), validation \(validation.count)")

        let backbone = try Classifier(directory: options.backboneDirectory)
        let extractor = FeatureExtractor(backbone: backbone, cacheDirectory: options.cacheDirectory, augmentation: options.augmentation,
                                         mask: options.mask)
        let examples = (train + validation).map { Cohort.Example(instance: $0.instance, label: 0, split: $0.split) }
        let inputs = TrainingInputs(examples: examples, backbone: backbone, extractor: extractor,
                                    plain: Set(train.count..<examples.count), log: log)
        let e = try inputs.embeddings()
        let trainSet = train.indices.flatMap { i in e[i].map { ($0, train[i].targets) } }
        let validationSet = validation.indices.map { (e[train.count + $0][0], validation[$0].targets) }
        let result = try Trainer(options.hyper).fitMultiLabel(train: trainSet, validation: validationSet, outputs: cohort.findings.count) { e in
            log(String(format: "epoch %3d  train loss %.4f", e.epoch, e.trainLoss)
                + (e.validationLoss.map { String(format: "  validation loss %.4f", $0) } ?? "")
                + (e.validationAUROC.map { String(format: "  mean validation AUROC %.3f", $0) } ?? ""))
        }
        for reason in result.overfittingReasons { log("warning: training and validation diverge (overfitting): \(reason)") }
        let trainPlain = train.indices.map { (e[$0][0], train[$0].targets) }
        func logits(_ set: [([Float], [Float?])]) -> [[Float]] { set.map { result.head.logits($0.0) } }
        let trainAUROC = MultiLabelLoss.aurocs(logits(trainPlain), trainPlain.map(\.1))
        let trainLoss = cohort.findings.indices.map { k in
            MultiLabelLoss.loss(logits(trainPlain).map { [$0[k]] }, trainPlain.map { [$0.1[k]] })
        }
        let validationAUROC = validationSet.isEmpty ? cohort.findings.map { _ in nil } : MultiLabelLoss.aurocs(logits(validationSet), validationSet.map(\.1))
        for (k, finding) in cohort.findings.enumerated() {
            log(String(format: "%@: training loss %.4f", finding, trainLoss[k])
                + (trainAUROC[k].map { String(format: ", training AUROC %.3f", $0) } ?? "")
                + (validationAUROC[k].map { String(format: ", validation AUROC %.3f", $0) } ?? (validationSet.isEmpty ? "" : ", validation AUROC n/a (one label held out)")))
        }
        var outcome = Outcome(result: result, trainSize: train.count, validationSize: validation.count, validationAUROC: validationAUROC,
                              trainAUROC: trainAUROC, trainLoss: trainLoss, cardPath: "\(options.output)/model.json")
        outcome.weightsSha256 = try write(outcome, backbone: backbone, cohort: cohort, patients: patients)
        outcome.cardJSON = try String(contentsOfFile: outcome.cardPath, encoding: .utf8)
        return outcome
    }

    /// Writes `head.safetensors` (as the linear softmax head), `curves.png` and the card; returns the weights' sha256.
    func write(_ o: Outcome, backbone: Classifier, cohort: MultiLabelCohort, patients: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: options.output, withIntermediateDirectories: true)
        let head = o.result.head
        let tensors: [(name: String, shape: [Int], values: [Float])] = [
            ("dense1.weight", [head.classes, head.inputs], head.parameters[0]), ("dense1.bias", [head.classes], head.parameters[1]),
            ("input_mean", [head.inputs], head.mean), ("input_scale", [head.inputs], head.scale)]
        let weightsPath = "\(options.output)/head.safetensors"
        try SafeTensorsWriter.write(tensors, metadata: ["head": options.head, "backbone": options.backbone, "unfrozen_blocks": "0",
                                                        "output": "sigmoid"], to: weightsPath)
        let sha = try ContentHash.sha256(file: weightsPath)
        try LearningCurves.png(o.result.curve, bestEpoch: o.result.bestEpoch, to: "\(options.output)/curves.png")
        let card = try card(o, backbone: backbone, cohort: cohort, patients: patients, weightsSha: sha)
        let json = try JSONSerialization.data(withJSONObject: card, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try json.write(to: URL(fileURLWithPath: o.cardPath))
        return sha
    }

    func card(_ o: Outcome, backbone: Classifier, cohort: MultiLabelCohort, patients: Int, weightsSha: String) throws -> [String: Any] {
        let base = backbone.card
        let code = cohort.findings.count == 1 ? options.findingCode : nil
        let findings: [[String: Any]] = cohort.findings.map { name in
            var f: [String: Any] = ["name": name, "threshold": options.threshold]
            if let code { f["code"] = ["value": code.value, "scheme": code.scheme, "meaning": code.meaning] }
            return f
        }
        var metrics: [String: Any] = ["validation_images": o.validationSize]
        if o.validationSize == 0 { metrics["note"] = "no held-out evaluation" }
        for (k, name) in cohort.findings.enumerated() {
            if let a = o.validationAUROC[k] { metrics["validation_auroc_\(name)"] = a }
            if let a = o.trainAUROC[k] { metrics["train_auroc_\(name)"] = a }
            metrics["train_loss_\(name)"] = Double(o.trainLoss[k])
        }
        let counts = cohort.findings.indices.map { k in
            "\(cohort.findings[k]): \(cohort.examples.filter { $0.targets[k] == 1 }.count) positive, \(cohort.examples.filter { $0.targets[k] == 0 }.count) negative"
        }
        let hyper = try JSONSerialization.jsonObject(with: JSONEncoder().encode(options.hyper))
        let perFinding: [[String: Any]] = cohort.findings.indices.map { k in
            ["finding": cohort.findings[k], "train_loss": Double(o.trainLoss[k]), "train_auroc": o.trainAUROC[k] ?? NSNull(),
             "validation_auroc": o.validationAUROC[k] ?? NSNull()]
        }
        return [
            "name": options.head, "head": options.head, "backbone": options.backbone, "head_type": "linear", "unfrozen_blocks": 0,
            "architecture": base.architecture, "batchnorm_epsilon": base.batchnormEpsilon,
            "input": ["height": base.input.height, "width": base.input.width, "channels": base.input.channels,
                      "color": base.input.color, "resize": base.forTraining.input.resize, "mask": options.mask.map { $0 as Any } ?? NSNull(),
                      "normalization": ["scale": base.input.normalization.scale, "offset": base.input.normalization.offset]],
            "classes": cohort.findings, "output": "sigmoid", "weights_sha256": weightsSha,
            "backbone_weights_sha256": base.weightsSha256 ?? "",
            "license": "trained by dxkit on the user's data; backbone: \(base.license ?? "see backbone")",
            "intended_use": options.warning ?? "Research use; validate on your own population before any use.",
            "warning": options.warning ?? NSNull(),
            "training_data": "\(cohort.examples.count) images of \(patients) patients (\(counts.joined(separator: "; "))); labels \(URL(fileURLWithPath: labels.path).lastPathComponent) sha256 \(labels.sha256)",
            "training": [
                "labels_sha256": labels.sha256, "labels_file": labels.path, "split_sizes": ["train": o.trainSize, "validation": o.validationSize],
                "patients": patients, "hyperparameters": hyper, "augmentation": options.augmentation.summary,
                "loss": "mean binary cross-entropy per finding over the labelled (image, finding) pairs; unlabelled pairs masked",
                "best_epoch": o.result.bestEpoch, "overfitting": o.result.overfitting, "overfitting_reasons": o.result.overfittingReasons,
                "per_finding": perFinding,
                "standardisation": "per feature (x − training mean) / max(training deviation, \(Standardisation.floorFraction) × RMS of all features' deviations)",
                "curve": o.result.curve.map { ["epoch": $0.epoch, "train_loss": $0.trainLoss, "validation_loss": $0.validationLoss ?? NSNull(),
                                              "train_auroc": $0.trainAUROC ?? NSNull(), "validation_auroc": $0.validationAUROC ?? NSNull(),
                                              "seconds": $0.seconds] as [String: Any] },
                "dxkit_version": options.version,
            ],
            "metrics": metrics,
            "scoring": [
                "procedure_code": options.procedureCode.map { ["value": $0.value, "scheme": $0.scheme, "meaning": $0.meaning] as Any } ?? NSNull(),
                "routing": ["accept_any": options.routing.map { $0.mapValues { $0.map { $0 ?? NSNull() as Any } } }],
                "findings": findings,
                "aggregation": ["rule": options.aggregation,
                                "description": options.aggregation == "laterality-mean-max"
                                    ? "per breast: mean over its views (CC, MLO); study: the higher breast"
                                    : "study probability = the highest probability among its images"],
            ],
        ]
    }
}
