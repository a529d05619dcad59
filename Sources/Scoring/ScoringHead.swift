import Foundation
import Models

extension Scorer {
    /// A task head: a classifier whose card says how to route, threshold and aggregate.
    public struct Head {
        public let card: ModelCard
        /// The model folder (model.json and its weights).
        public let directory: String
        let network: LazyClassifier
        public let name: String
        public let scoring: ModelCard.Scoring
        public let sha256: String
        public let positiveIndex: Int
        /// The active calibration (identity and the card's threshold when none).
        public var calibrator: Calibrator?
        public var threshold: Double

        /// A head whose weights are loaded on first use (`load()`), so that a run with no work
        /// for it never reads them.
        /// `search`: where a trained head's backbone is looked for (see `Classifier`).
        public init(directory: String, search: ModelSearch? = nil) throws {
            try self.init(card: ModelCard.load("\(directory)/model.json"), directory: directory,
                          network: LazyClassifier(directory: directory, search: search))
        }

        public init(classifier: Classifier) throws {
            try self.init(card: classifier.card, directory: classifier.directory, network: LazyClassifier(loaded: classifier))
        }

        init(card: ModelCard, directory: String, network: LazyClassifier) throws {
            guard let name = card.head, let scoring = card.scoring else {
                throw ModelError(file: "\(directory)/model.json", reason: "not a task head (no head/scoring in its card)")
            }
            guard let classes = card.classes, let positive = classes.firstIndex(of: scoring.positiveClass) else {
                throw ModelError(file: "\(directory)/model.json", reason: "positive class \(scoring.positiveClass) not among its classes")
            }
            self.card = card
            self.directory = directory
            self.network = network
            self.name = name
            self.scoring = scoring
            self.sha256 = card.weightsSha256 ?? ""
            self.positiveIndex = positive
            self.threshold = scoring.threshold
        }

        /// The network, loading its weights the first time.
        @discardableResult public func load() throws -> Classifier { try network.get() }

        /// The network; `load()` must have succeeded first.
        public var classifier: Classifier { network.loaded! }

        /// The class decided when the positive class's probability is below the threshold.
        public var negativeLabel: String {
            card.classes?.enumerated().first { $0.offset != positiveIndex }?.element ?? "negative"
        }
    }
}

/// A classifier loaded once, on first use, by whichever thread asks first.
final class LazyClassifier: @unchecked Sendable {
    let directory: String
    let search: ModelSearch?
    private(set) var loaded: Classifier?
    private let lock = NSLock()

    init(directory: String, search: ModelSearch? = nil) {
        self.directory = directory
        self.search = search
    }
    init(loaded: Classifier) { directory = loaded.directory; search = nil; self.loaded = loaded }

    func get() throws -> Classifier {
        lock.lock()
        defer { lock.unlock() }
        if let loaded { return loaded }
        let c = try Classifier(directory: directory, search: search)
        loaded = c
        return c
    }
}
