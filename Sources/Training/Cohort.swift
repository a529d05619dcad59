import Foundation

/// An image of a training cohort: where it is, what it is, whose it is (for patient-level splits).
public struct TrainingImage: Sendable {
    public var instanceID: Int64
    public var path: String
    public var sopInstanceUID: String
    public var studyInstanceUID: String?
    public var patient: String
    /// Content hash: the feature cache's key.
    public var sha256: String

    public init(instanceID: Int64, path: String, sopInstanceUID: String, studyInstanceUID: String?, patient: String, sha256: String) {
        self.instanceID = instanceID
        self.path = path
        self.sopInstanceUID = sopInstanceUID
        self.studyInstanceUID = studyInstanceUID
        self.patient = patient
        self.sha256 = sha256
    }
}

/// The labelled images of a training run with their split (resolved from a labels file against
/// the index by `Pipeline.TrainJob`).
public struct Cohort {
    public struct Example: Sendable {
        public var instance: TrainingImage
        public var label: Int
        public var split: Split
        public init(instance: TrainingImage, label: Int, split: Split) {
            self.instance = instance
            self.label = label
            self.split = split
        }
    }

    public enum Split: String, Sendable, CaseIterable { case train, val, test }

    public let classes: [String]
    public var examples: [Example]

    public init(classes: [String], examples: [Example]) {
        self.classes = classes
        self.examples = examples
    }

    public var patients: Set<String> { Set(examples.map(\.instance.patient)) }

    /// Splits by patient — no patient in two splits —, stratified by each patient's majority label,
    /// with a seeded shuffle. `validation` is the share of patients held out for validation.
    public mutating func splitByPatient(validation: Double, seed: UInt64) {
        var byPatient: [String: [Int]] = [:]
        for e in examples { byPatient[e.instance.patient, default: []].append(e.label) }
        var rng = SplitMix64(seed: seed)
        var assignment: [String: Split] = [:]
        for label in 0..<classes.count {
            var patients = byPatient.filter { majority($0.value) == label }.keys.sorted()
            rng.shuffle(&patients)
            // At least one patient of each class stays in training.
            let held = min(Int((Double(patients.count) * validation).rounded()), max(patients.count - 1, 0))
            for (i, p) in patients.enumerated() { assignment[p] = i < held ? .val : .train }
        }
        for i in examples.indices { examples[i].split = assignment[examples[i].instance.patient] ?? .train }
    }

    func majority(_ labels: [Int]) -> Int {
        let counts = Dictionary(grouping: labels, by: { $0 }).mapValues(\.count)
        return counts.max { $0.value == $1.value ? $0.key > $1.key : $0.value < $1.value }!.key
    }

    /// Refuses a split that has examples of only one class (naming it and its size).
    public func checkSplits(requireValidation: Bool) throws {
        for split in Split.allCases {
            let labels = Set(examples.filter { $0.split == split }.map(\.label))
            let n = examples.filter { $0.split == split }.count
            if split == .val && requireValidation && n == 0 {
                throw TrainingError(file: "labels", reason: "no validation examples (\(patients.count) patients); use --validation none to train without held-out evaluation")
            }
            if split == .train && labels.count < 2 {
                throw TrainingError(file: "labels", reason: "the training split (\(n) images) holds \(labels.isEmpty ? "no images" : "only class \(classes[labels.first!])"); it needs both classes")
            }
            if n > 0 && labels.count < 2 && (split != .val || requireValidation) {
                throw TrainingError(file: "labels", reason: "the \(split.rawValue) split (\(n) images) holds only class \(classes[labels.first!]); it needs both classes")
            }
        }
    }

    public func examples(_ split: Split) -> [Example] { examples.filter { $0.split == split } }
}

/// A small, fast, seedable generator (SplitMix64) so that runs are reproducible bit for bit.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 24) }
    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u = max(unit(), 1e-7), v = unit()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            array.swapAt(i, j)
        }
    }
}
