import Evaluation
import Foundation

/// `dxkit train --cv`: one configuration evaluated by cross-validation. Each fold trains on the
/// other folds (augmented copies included) for the configured epochs — no early stopping, since
/// the only held-out images are the fold's own — and predicts its held-out images as they are.
/// The out-of-fold probabilities of every image are pooled into one AUROC (folds of one patient
/// have no AUROC of their own) with a stratified percentile bootstrap interval over images, and
/// a pooled log loss.
public struct CrossValidation: Sendable {
    public enum Scheme: Sendable, Equatable {
        /// K folds of whole patients, stratified by class, seeded (as the search's folds).
        case folds(Int)
        /// Leave one patient out: one fold per patient.
        case patients
        /// Leave one image out: images of a patient sit on both sides of a fold, so this checks
        /// the pipeline and says nothing about new patients.
        case images

        /// Parses "5", "patients" (or "loo") and "images".
        public init?(_ text: String) {
            switch text {
            case "patients", "loo", "leave-one-patient-out": self = .patients
            case "images", "leave-one-image-out": self = .images
            default:
                guard let k = Int(text), k >= 2 else { return nil }
                self = .folds(k)
            }
        }

        public var name: String {
            switch self {
            case let .folds(k): return "\(k)-fold by patient"
            case .patients: return "leave-one-patient-out"
            case .images: return "leave-one-image-out"
            }
        }

        /// What the number can mean, said on the card and the terminal.
        public var meaning: String {
            switch self {
            case .folds, .patients:
                return "every image is predicted by a head trained without its patient; pooled over folds"
            case .images:
                return "images of one patient are on both sides of each fold: a check of the pipeline only, not an estimate of accuracy on new patients"
            }
        }
    }

    public struct Report: Sendable {
        public var scheme: Scheme
        /// Folds trained (a fold whose training side lacks a class is skipped: its images are unscored).
        public var folds: Int
        public var skippedFolds: Int
        /// Out-of-fold probability of the positive (last) class per example, nil when unscored.
        public var probabilities: [Double?]
        public var labels: [Int]
        public var auroc: Double?
        public var interval: (Double, Double)?
        public var logLoss: Double?
        public var scored: Int { probabilities.compactMap { $0 }.count }
    }

    public var scheme: Scheme
    public var bootstrapReplicates = 2000

    public init(scheme: Scheme) { self.scheme = scheme }

    /// Fold of each example.
    public static func folds(_ examples: [Cohort.Example], scheme: Scheme, seed: UInt64) -> [Int] {
        switch scheme {
        case let .folds(k): return HyperparameterSearch.patientFolds(examples, folds: k, seed: seed)
        case .patients:
            let patients = Array(Set(examples.map(\.instance.patient))).sorted()
            let index = Dictionary(uniqueKeysWithValues: patients.enumerated().map { ($1, $0) })
            return examples.map { index[$0.instance.patient]! }
        case .images: return Array(examples.indices)
        }
    }

    func run(_ inputs: TrainingInputs, hyper: Trainer.Hyperparameters, classes: Int, log: (String) -> Void) throws -> Report {
        let examples = inputs.examples
        let fold = Self.folds(examples, scheme: scheme, seed: hyper.seed)
        var probabilities = [Double?](repeating: nil, count: examples.count)
        var trained = 0, skipped = 0
        let count = Set(fold).count
        for k in Set(fold).sorted() {
            let train = examples.indices.filter { fold[$0] != k }, heldOut = examples.indices.filter { fold[$0] == k }
            guard Set(train.map { examples[$0].label }).count == classes else { skipped += 1; continue }
            let fit = try inputs.fit(hyper, train: train, validation: [], classes: classes)
            for (i, z) in zip(heldOut, try inputs.logits(fit, hyper, of: heldOut)) {
                probabilities[i] = Double(Self.softmax(z).last!)
            }
            trained += 1
            log("cv: fold \(trained + skipped)/\(count) (\(heldOut.count) held out) done")
        }
        let labels = examples.map(\.label)
        var report = Report(scheme: scheme, folds: trained, skippedFolds: skipped, probabilities: probabilities, labels: labels)
        let scored = examples.indices.filter { probabilities[$0] != nil }
        guard !scored.isEmpty else { return report }
        let positive = classes - 1
        let evaluation = BinaryEvaluation(scores: scored.map { probabilities[$0]! }, labels: scored.map { labels[$0] == positive ? 1 : 0 })
        report.logLoss = scored.map { i -> Double in
            let p = min(max(labels[i] == positive ? probabilities[i]! : 1 - probabilities[i]!, 1e-15), 1)
            return -Foundation.log(p)
        }.reduce(0, +) / Double(scored.count)
        if classes == 2, let auroc = evaluation.auroc {
            report.auroc = auroc
            report.interval = Bootstrap(replicates: bootstrapReplicates, seed: hyper.seed).intervals(evaluation, threshold: 0.5, bins: 15)["auroc"]
        }
        return report
    }

    static func softmax(_ z: [Float]) -> [Float] {
        let m = z.max()!
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}
