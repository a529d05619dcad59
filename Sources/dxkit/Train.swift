import ArgumentParser
import Models
import Pipeline
import Foundation
import Models
import Store
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a head on a backbone's frozen features from labelled, ingested studies.",
        discussion: """
            Labels CSV: a key column (sop_instance_uid, study_instance_uid or path), label (0/1 or a class name) and an \
            optional split (train/val/test). Without split, patients are split (no patient in two splits), stratified, \
            seeded. Embeddings are computed once and cached (.cache/features); epochs train only the head. With \
            --unfreeze K the backbone's last K blocks are retrained with the head (BatchNorm statistics frozen): \
            their input maps are cached instead, and the blocks' new weights are stored with the head. --cv \
            K|patients|images cross-validates the configuration (pooled AUROC with a bootstrap interval) before \
            training the final head on every non-test image. Each epoch prints training and validation loss and \
            AUROC; a warning says when they diverge. The head is written to --out and registered, so `dxkit score` \
            uses it at once.
            """)

    @OptionGroup var index: IndexOption
    @Option(help: "Labels CSV.") var labels: String
    @Option(help: "Head name (used by scoring and reports).") var head: String
    @Option(help: "The backbone to train on: xception, efficientnet-lite0, mobilenet-v2, or the name of an imported model folder (dxkit import-model).") var backbone = "efficientnet-lite0"
    @Option(help: "Head type (prototype: few-shot class means).") var headType = HeadKind.linear
    @Option(help: "Class names, negative first.") var classes = "NEGATIVE,POSITIVE"
    @Option(help: "Share of patients held out for validation, or 'none' (no held-out evaluation).") var validation = "0.2"
    @Option var epochs = 100
    @Option var lr: Float = 1e-3
    @Option var weightDecay: Float = 1e-2
    @Option var batch = 32
    @Option(help: "Learning-rate schedule.") var schedule = LearningRateSchedule.cosine
    @Option(help: "Early-stopping patience in epochs.") var patience = 15
    @Flag(help: "Run every epoch and keep the last (no early stopping on the validation set).") var noEarlyStopping = false
    @Option(help: ArgumentHelp("Cross-validate this configuration on every non-test image and report the pooled AUROC with a bootstrap interval: K (folds of whole patients), patients (leave one patient out) or images (leave one image out: a pipeline check only). The final head then trains on all of them.", valueName: "K|patients|images"))
    var cv: String?
    @Option(help: "Augmentation, e.g. copies=4,rotate=5,scale=0.9,brightness=0.1,contrast=0.1[,flip].") var augment = ""
    @Option var seed: UInt64 = 1
    @Option(help: "Retrain the backbone's last K blocks with the head (0: frozen backbone).") var unfreeze = 0
    @Option(help: "Learning rate of the unfrozen blocks as a share of --lr.") var backboneLrScale: Float = 0.1
    @Option(help: "Unfrozen-block counts a --search tries, e.g. 0,1,2 (default: --unfreeze).") var searchUnfreeze: String?
    @Option(help: "Routing preset for scoring.") var routing = RoutingPreset.chest
    @Flag(help: "Mammography: do not black out what is not breast (burned-in labels, markers, background) before training and scoring.")
    var noMask = false
    @Option(help: "Study rule.") var aggregation = StudyRule.max
    @Option(help: "Operating threshold on the positive class.") var threshold = 0.5
    @Option(help: "Warning carried by the model card and every report of this head.") var warning: String?
    @Option(name: .customLong("finding-code"),
            help: "What the SR codes the finding as: SCHEME,CODE,MEANING (e.g. SCT,254837009,Malignant neoplasm of breast). Default: a private 99DXKIT code named after the head.")
    var findingCode: String?
    @Option(name: .customLong("procedure-code"),
            help: "The procedure the SR reports: SCHEME,CODE,MEANING (default by --routing: SCT 399208008 Plain chest X-ray, SCT 71651007 Mammography).")
    var procedureCode: String?

    /// `SCHEME,CODE,MEANING` (the meaning may hold commas).
    static func code(_ text: String, option: String) throws -> (value: String, scheme: String, meaning: String) {
        let parts = text.split(separator: ",", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && !$0.contains("\\") }), parts[0].count <= 16, parts[1].count <= 64 else {
            throw ValidationError("\(option) takes SCHEME,CODE,MEANING (e.g. SCT,233604007,Pneumonia), not \(text)")
        }
        return (parts[1], parts[0], parts[2])
    }
    @Option(help: "Search hyperparameters (lr, weight decay, head type) first: random or grid.") var search: String?
    @Option(help: "Configurations tried by a random search.") var trials = 8
    @Option(help: "Cross-validation folds (by patient) for --search.") var folds = 5
    @OptionGroup var models: ModelOptions
    @Flag(help: "Multi-label: one sigmoid output per finding (linear head on frozen features); --labels is long-format (key, finding, label).")
    var multilabel = false
    @Option(help: "With --multilabel: the findings to train, e.g. Pneumonia,Opacity (default: every finding in the labels file, first seen first).")
    var findings: String?
    @Option(help: "Where embeddings and freeze-point maps are cached.") var cacheDir = ".cache/features"
    @Option(help: "Output folder for the head (any folder; its card names the backbone and its weights, which are found wherever models are).") var out: String

    func run() throws {
        try checkMultiLabelOptions()
        // A shipped backbone by its catalog name, or an imported model (its graph up to its feature layer).
        let folder = ModelCatalog.backbones[backbone] ?? backbone
        guard ModelCatalog.backbones[backbone] != nil || (try? models.search())?.folder(named: backbone) != nil else {
            throw ValidationError("unknown backbone \(backbone): not one of \(ModelCatalog.backbones.keys.sorted().joined(separator: ", ")) nor a model folder found in the models folders")
        }
        if ModelCatalog.backbones[backbone] == nil, unfreeze > 0 || searchUnfreeze != nil,
           let card = try? ModelCard.load("\(try models.folder(named: folder))/model.json"), card.architecture == "onnx-graph" {
            throw ValidationError("--unfreeze needs a backbone made of blocks; \(backbone) is an imported graph, trained on frozen features only (--unfreeze 0)")
        }
        guard let rules = ModelCatalog.routings[routing.rawValue] else { throw ValidationError("unknown routing preset \(routing.rawValue) (chest, mammography)") }
        var options = TrainingRun.Options()
        options.head = head
        options.classes = classes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        options.backbone = folder
        options.backboneDirectory = try models.folder(named: folder)
        options.cacheDirectory = cacheDir
        options.output = out
        options.validation = validation == "none" ? 0 : (Double(validation) ?? 0.2)
        options.hyper.head = headType.rawValue
        options.hyper.epochs = epochs
        options.hyper.learningRate = lr
        options.hyper.weightDecay = weightDecay
        options.hyper.batch = batch
        options.hyper.schedule = schedule.rawValue
        options.hyper.patience = patience
        options.hyper.earlyStopping = !noEarlyStopping
        options.hyper.seed = seed
        options.hyper.unfreeze = unfreeze
        options.hyper.backboneLearningRateScale = backboneLrScale
        guard unfreeze >= 0 else { throw ValidationError("--unfreeze takes a number of blocks, 0 or more") }
        guard unfreeze == 0 || headType != .prototype else {
            throw ValidationError("--unfreeze needs a linear or mlp head: prototype heads are not trained by gradient")
        }
        options.routing = rules
        options.mask = routing == .mammography && !noMask ? "breast" : nil
        options.aggregation = aggregation.rawValue
        options.threshold = threshold
        options.warning = warning
        options.findingCode = try findingCode.map { try Self.code($0, option: "--finding-code") }
        options.procedureCode = try procedureCode.map { try Self.code($0, option: "--procedure-code") }
            ?? (routing == .mammography ? ("71651007", "SCT", "Mammography") : ("399208008", "SCT", "Plain chest X-ray"))
        options.version = DXKit.version
        if let cv {
            guard let scheme = CrossValidation.Scheme(cv) else {
                throw ValidationError("--cv takes a number of folds (2 or more), patients or images, not \(cv)")
            }
            guard search == nil else { throw ValidationError("--cv evaluates one configuration and --search chooses one: run them one at a time") }
            options.crossValidation = scheme
        }
        if let search {
            guard search == "random" || search == "grid" else { throw ValidationError("--search takes random or grid") }
            let choices = try (searchUnfreeze ?? String(unfreeze)).split(separator: ",").map { part -> Int in
                guard let k = Int(part.trimmingCharacters(in: .whitespaces)), k >= 0 else {
                    throw ValidationError("--search-unfreeze takes block counts such as 0,1,2, not \(part)")
                }
                return k
            }
            options.search = HyperparameterSearch(method: search, trials: trials, folds: folds, unfreezeChoices: choices)
        }
        if multilabel { return try runMultiLabel(options) }
        do {
            options.augmentation = try Augmentation(spec: augment)
            let outcome = try TrainJob(database: IndexDatabase(path: index.db, mustExist: true), labels: LabelsFile(path: labels), options: options)
                .run { printError($0) }
            let k = outcome.hyper.unfreeze
            let unfrozen = k == 0 ? "" : k == 1 ? ", last block retrained" : ", last \(k) blocks retrained"
            var line = "trained \(head) (\(outcome.hyper.head) on \(backbone)\(unfrozen)): \(outcome.trainSize) training images, \(outcome.validationSize) validation, best epoch \(outcome.result.bestEpoch)"
            if let auroc = outcome.validationAUROC { line += String(format: ", validation AUROC %.3f", auroc) }
            if let ci = outcome.validationInterval { line += String(format: " (95%% CI %.3f–%.3f)", ci.0, ci.1) }
            if let cv = outcome.crossValidation {
                line += ", cross-validated (\(cv.scheme.name))"
                if let auroc = cv.auroc { line += String(format: " AUROC %.3f", auroc) }
                if let ci = cv.interval { line += String(format: " (95%% bootstrap CI %.3f–%.3f)", ci.0, ci.1) }
                if let ll = cv.logLoss { line += String(format: ", log loss %.3f", ll) }
            }
            if outcome.result.overfitting {
                line += "\nOVERFITTING: training and validation diverge: " + outcome.result.overfittingReasons.joined(separator: "; ")
            }
            print(line + "\nwrote \(outcome.cardPath)")
        } catch {
            printError("dxkit train: \(error)")
            throw ExitCode(2)
        }
    }
}
