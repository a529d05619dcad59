import Evaluation
import Foundation
import Models
import Store

extension ScoreJob {
    /// A task head: a classifier whose card says how to route, decide and aggregate. The card is
    /// read and decoded once (`load(directory:)`), its JSON kept to register the model.
    public struct Head {
        public let card: ModelCard
        /// The card as read from `model.json`, registered in the index as it is.
        public let cardJSON: String
        /// The model folder (model.json and its weights).
        public let directory: String
        let network: LazyClassifier
        public let name: String
        public let scoring: ModelCard.Scoring
        public let sha256: String
        public let positiveIndex: Int
        /// The active calibration (identity when none).
        public var calibrator: Calibrator?
        /// How a calibrated probability becomes a decision: the card's threshold, or the active
        /// calibration's operating point.
        public var rule: DecisionRule

        /// The head in `directory`, its weights loaded on first use (`load()`), so that a run with
        /// no work for it never reads them. `search`: where a trained head's backbone is looked for.
        public static func load(directory: String, search: ModelSearch? = nil) throws -> Head {
            guard let head = try loadIfHead(directory: directory, search: search) else {
                throw ModelError(file: "\(directory)/model.json", reason: "not a task head (no head/scoring in its card)")
            }
            return head
        }

        /// The head in `directory`, nil when its card is a plain model (a backbone, no head).
        public static func loadIfHead(directory: String, search: ModelSearch? = nil) throws -> Head? {
            let file = "\(directory)/model.json"
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ModelError(file: file, reason: "no model card")
            }
            let card = try ModelCard.decode(data, file: file)
            guard card.head != nil, card.scoring != nil else { return nil }
            return try Head(card: card, cardJSON: String(decoding: data, as: UTF8.self), directory: directory,
                            network: LazyClassifier(card: card, directory: directory, search: search))
        }

        public init(directory: String, search: ModelSearch? = nil) throws {
            self = try Head.load(directory: directory, search: search)
        }

        public init(classifier: Classifier) throws {
            let json = (try? String(contentsOfFile: "\(classifier.directory)/model.json", encoding: .utf8)) ?? "{}"
            try self.init(card: classifier.card, cardJSON: json, directory: classifier.directory, network: LazyClassifier(loaded: classifier))
        }

        init(card: ModelCard, cardJSON: String, directory: String, network: LazyClassifier) throws {
            guard let name = card.head, let scoring = card.scoring, let rule = card.decisionRule else {
                let multi = card.scoring?.findings != nil
                throw ModelError(file: "\(directory)/model.json", reason: multi ? "a multi-label head (scoring.findings), which this build does not score yet"
                                                                              : "not a task head (no head/scoring with positive_class and threshold in its card)")
            }
            guard let classes = card.classes, let positive = classes.firstIndex(of: rule.positive) else {
                throw ModelError(file: "\(directory)/model.json", reason: "positive class \(rule.positive) not among its classes")
            }
            self.card = card
            self.cardJSON = cardJSON
            self.directory = directory
            self.network = network
            self.name = name
            self.scoring = scoring
            self.sha256 = card.weightsSha256 ?? ""
            self.positiveIndex = positive
            self.rule = rule
        }

        /// The network, loading its weights the first time.
        @discardableResult public func load() throws -> Classifier { try network.get() }

        /// The network; `load()` must have succeeded first.
        public var classifier: Classifier { network.loaded! }
    }
}

/// A classifier loaded once, on first use, by whichever thread asks first.
final class LazyClassifier: @unchecked Sendable {
    let card: ModelCard
    let directory: String
    let search: ModelSearch?
    private(set) var loaded: Classifier?
    private let lock = NSLock()

    init(card: ModelCard, directory: String, search: ModelSearch? = nil) {
        self.card = card
        self.directory = directory
        self.search = search
    }
    init(loaded: Classifier) { card = loaded.card; directory = loaded.directory; search = nil; self.loaded = loaded }

    func get() throws -> Classifier {
        lock.lock()
        defer { lock.unlock() }
        if let loaded { return loaded }
        let c = try Classifier(card: card, directory: directory, search: search)
        loaded = c
        return c
    }
}
