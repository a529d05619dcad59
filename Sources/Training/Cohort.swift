import Foundation
import Store

/// The labelled images of a training run, resolved against the index, with their split.
public struct Cohort {
    public struct Example: Sendable {
        public var instance: LabelledInstance
        public var label: Int
        public var split: Split
    }

    public enum Split: String, Sendable, CaseIterable { case train, val, test }

    public let classes: [String]
    public var examples: [Example]

    /// Resolves every row; refuses (naming the rows) when a label references nothing ingested.
    /// Labels are class names, or 0/1 for `classes` = [negative, positive].
    public init(labels: LabelsFile, database: IndexDatabase, classes: [String]) throws {
        self.classes = classes
        let found = try database.instances(matching: labels.rows.map(\.key), column: labels.keyKind.rawValue)
        var missing: [String] = [], badLabels: [String] = []
        var examples: [Example] = []
        for row in labels.rows {
            let label: Int?
            if let n = Int(row.label), n >= 0, n < classes.count { label = n } else { label = classes.firstIndex(of: row.label) }
            guard let label else {
                badLabels.append("line \(row.line): label '\(row.label)' is none of \(classes.joined(separator: ", ")) or 0…\(classes.count - 1)")
                continue
            }
            guard let instances = found[row.key] else {
                missing.append("line \(row.line): \(labels.keyKind.rawValue) \(row.key)")
                continue
            }
            for var instance in instances {
                if let patient = row.patient { instance.patient = patient }
                examples.append(Example(instance: instance, label: label, split: Split(rawValue: row.split ?? "") ?? .train))
            }
        }
        if !badLabels.isEmpty { throw TrainingError(file: labels.path, reason: badLabels.joined(separator: "; ")) }
        if !missing.isEmpty {
            throw TrainingError(file: labels.path, reason: "labels reference nothing ingested (ingest the images first): "
                                + missing.joined(separator: "; "))
        }
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
