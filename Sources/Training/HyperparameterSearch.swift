import Evaluation
import Foundation

/// Random or grid search over learning rate, weight decay, head type and unfrozen blocks, each configuration
/// scored by K-fold cross-validation with folds made of whole patients (stratified, seeded).
/// The configuration with the lowest mean validation loss wins; every trial is kept. Folds train for
/// the configured epochs (no early stopping on the fold that scores them).
public struct HyperparameterSearch {
    public struct Trial: Sendable {
        public var hyper: Trainer.Hyperparameters
        public var foldLosses: [Float]
        public var meanLoss: Float
        public var meanAUROC: Double?
    }

    public static let learningRates: [Float] = [1e-4, 3e-4, 1e-3, 3e-3]
    public static let weightDecays: [Float] = [0, 1e-4, 1e-2]
    public static let heads = ["linear", "mlp", "prototype"]

    public var method = "random"
    public var trials = 8
    public var folds = 5
    /// Numbers of unfrozen backbone blocks to try (prototype heads only with 0).
    public var unfreezeChoices = [0]

    public init(method: String, trials: Int, folds: Int, unfreezeChoices: [Int] = [0]) {
        self.method = method
        self.trials = trials
        self.folds = folds
        self.unfreezeChoices = unfreezeChoices.isEmpty ? [0] : unfreezeChoices
    }

    /// The configurations to try, derived from `base` (seeded for random search).
    func configurations(base: Trainer.Hyperparameters) -> [Trainer.Hyperparameters] {
        var grid: [Trainer.Hyperparameters] = []
        for head in Self.heads {
            for k in (head == "prototype" ? [0] : unfreezeChoices) {
                for lr in (head == "prototype" ? [base.learningRate] : Self.learningRates) {
                    for wd in (head == "prototype" ? [base.weightDecay] : Self.weightDecays) {
                        var h = base
                        h.head = head; h.learningRate = lr; h.weightDecay = wd; h.unfreeze = k
                        grid.append(h)
                    }
                }
            }
        }
        if !unfreezeChoices.contains(0) { grid.removeAll { $0.head == "prototype" } }
        guard method == "random", trials < grid.count else { return grid }
        var rng = SplitMix64(seed: base.seed &+ 11)
        rng.shuffle(&grid)
        return Array(grid.prefix(max(1, trials)))
    }

    /// Cross-validates every configuration on `inputs`' examples and returns the best.
    func run(_ inputs: TrainingInputs, classes: Int, base: Trainer.Hyperparameters,
             log: (String) -> Void) throws -> (best: Trainer.Hyperparameters, trials: [Trial]) {
        let examples = inputs.examples
        let fold = Self.patientFolds(examples, folds: folds, seed: base.seed)
        let used = Set(fold).count
        guard used >= 2 else {
            throw TrainingError(file: "--search", reason: "cross-validation needs at least 2 patients per class; this cohort has too few")
        }
        var results: [Trial] = []
        for hyper in configurations(base: base) {
            var losses: [Float] = [], aurocs: [Double] = []
            for k in 0..<folds where fold.contains(k) {
                let train = examples.indices.filter { fold[$0] != k }, heldOut = examples.indices.filter { fold[$0] == k }
                guard Set(train.map { examples[$0].label }).count == classes else { continue }
                // The held-out fold scores the trial, so it does not also choose the epoch: each fold
                // trains for the configured epochs.
                let fit = try inputs.fit(hyper, train: train, validation: [], classes: classes)
                let labels = heldOut.map { examples[$0].label }
                let logits = try inputs.logits(fit, hyper, of: heldOut)
                let held = Trainer.validation(logits, labels, weights: Trainer.classWeights(train.map { examples[$0].label }, classes: classes))
                losses.append(held.loss)
                if let a = held.auroc { aurocs.append(a) }
            }
            guard !losses.isEmpty else { continue }
            let trial = Trial(hyper: hyper, foldLosses: losses, meanLoss: losses.reduce(0, +) / Float(losses.count),
                              meanAUROC: aurocs.isEmpty ? nil : aurocs.reduce(0, +) / Double(aurocs.count))
            results.append(trial)
            log(String(format: "search: %@ unfreeze %d lr %g wd %g → mean validation loss %.4f over %d folds", hyper.head,
                       hyper.unfreeze, hyper.learningRate, hyper.weightDecay, trial.meanLoss, losses.count)
                + (trial.meanAUROC.map { String(format: ", AUROC %.3f", $0) } ?? ""))
        }
        guard let best = results.min(by: { $0.meanLoss < $1.meanLoss }) else {
            throw TrainingError(file: "--search", reason: "no fold had both classes in training")
        }
        return (best.hyper, results)
    }

    /// Fold of each example: patients dealt round-robin into folds within each class, after a seeded shuffle.
    static func patientFolds(_ examples: [Cohort.Example], folds: Int, seed: UInt64) -> [Int] {
        var labelOf: [String: Int] = [:]
        for e in examples { labelOf[e.instance.patient] = max(labelOf[e.instance.patient] ?? 0, e.label) }
        var rng = SplitMix64(seed: seed &+ 5)
        var foldOf: [String: Int] = [:]
        for label in Set(labelOf.values).sorted() {
            var patients = labelOf.filter { $0.value == label }.keys.sorted()
            rng.shuffle(&patients)
            for (i, p) in patients.enumerated() { foldOf[p] = i % max(1, folds) }
        }
        return examples.map { foldOf[$0.instance.patient]! }
    }
}
