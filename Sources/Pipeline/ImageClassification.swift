import DICOM
import Engine
import Foundation
import Models

/// Classifies files with one model, in batches: each file is loaded and prepared as its card
/// says, failures are reported per file, and the others go on.
public struct ImageClassification {
    public struct Result: Sendable {
        public var file: String
        public var logits: [Float]
        public var probabilities: [Float]
        public var error: String?
    }

    public let classifier: Classifier
    public let batchSize: Int
    /// How the network runs (cores, instruction set, profiling).
    public let plan: ExecutionPlan

    public init(classifier: Classifier, batchSize: Int = 16, plan: ExecutionPlan = .default) {
        self.classifier = classifier
        self.batchSize = max(1, batchSize)
        self.plan = plan
    }

    /// One result per file, in the order given.
    public func run(_ files: [String]) -> [Result] {
        let card = classifier.card
        var results: [Result] = []
        results.reserveCapacity(files.count)
        var start = 0
        while start < files.count {
            let chunk = Array(files[start..<min(start + batchSize, files.count)])
            start += chunk.count
            var inputs: [[Float]] = [], slots: [Int] = []
            for file in chunk {
                do {
                    inputs.append(InputLoader.prepare(try InputLoader.rgb8(file), for: card))
                    slots.append(results.count)
                    results.append(Result(file: file, logits: [], probabilities: [], error: nil))
                } catch {
                    results.append(Result(file: file, logits: [], probabilities: [], error: "\(error)"))
                }
            }
            guard !inputs.isEmpty else { continue }
            let logits = classifier.logits(InputLoader.batch(inputs, for: card), plan: plan)
            let probabilities = classifier.probabilities(logits)
            let k = logits.count / logits.batch
            for (i, slot) in slots.enumerated() {
                results[slot].logits = Array(logits.data[(i * k)..<(i * k + k)])
                results[slot].probabilities = probabilities[i]
            }
        }
        return results
    }
}
