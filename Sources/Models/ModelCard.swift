import Foundation

/// The JSON card beside a model's weights: what the network is, what input it expects,
/// where the weights came from and under which licence, and what it is for.
public struct ModelCard: Decodable, Sendable {
    public struct Normalization: Decodable, Sendable {
        public var scale: [Float]
        public var offset: [Float]
    }

    public struct Input: Decodable, Sendable {
        public var height: Int
        public var width: Int
        public var channels: Int
        public var color: String
        /// "nearest", "bilinear" (or "stretch"), "shorter-S-crop-C" or "letterbox" (`ResizeMethod`).
        public var resize: String
        public var normalization: Normalization
        /// "breast": everything outside the breast region (labels, markers, background) is blacked
        /// out before resizing (`BreastRegion`), in training and in scoring alike. Nil: no mask.
        public var mask: String?
    }

    public struct Provenance: Decodable, Sendable {
        public var package: String?
        public var version: String?
        public var wheelSha256: String?
        public var file: String?
        public var fileSha256: String?
        /// For an import whose graph ended in Softmax or Sigmoid: that node, removed (dxkit applies the
        /// card's `output` to the logits itself).
        public var finalActivationRemoved: String?
    }

    /// How a task head is applied to DICOM instances (absent for plain backbones).
    public struct Scoring: Decodable, Sendable {
        public struct Routing: Decodable, Sendable {
            /// Clauses: attribute → accepted values (nil = the attribute may be missing).
            public var acceptAny: [[String: [String?]]]
        }
        public struct Aggregation: Decodable, Sendable {
            public var rule: String
            public var description: String?
        }
        /// A coded concept (value, coding scheme, meaning), e.g. 233604007 / SCT / Pneumonia.
        public struct Code: Decodable, Sendable, Equatable {
            public var value: String
            public var scheme: String
            public var meaning: String
            public init(value: String, scheme: String, meaning: String) {
                self.value = value
                self.scheme = scheme
                self.meaning = meaning
            }
        }
        /// One finding of a multi-label (sigmoid) head: the class (output) it reads by name, its
        /// operating threshold on that output's probability, and what the SR codes it as (nil: a
        /// private 99DXKIT code named after the finding).
        public struct Finding: Decodable, Sendable, Equatable {
            public var name: String
            public var threshold: Double
            public var code: Code?
        }
        public var routing: Routing
        /// Single-label (softmax) heads: the class scored and the threshold on its probability.
        /// Absent on multi-label cards, which decide per finding (`findings`).
        public var positiveClass: String?
        public var threshold: Double?
        /// Multi-label (sigmoid) heads: every finding reported, each with its own threshold and code
        /// (`ModelCard.findingRules` checks them against `classes`).
        public var findings: [Finding]?
        public var aggregation: Aggregation
        public var inputFromDicom: String?
        /// What the SR codes the finding as, and the procedure reported.
        public var findingCode: Code?
        public var procedureCode: Code?
        /// The decision (a class name) as the coded value of the finding in the SR; a class not
        /// listed is coded Present (positive class) or Absent (SNOMED CT).
        public var decisionCodes: [String: Code]?
    }

    public var name: String
    public var head: String?
    /// For heads trained by dxkit: the backbone's model folder (a sibling) and the head type.
    public var backbone: String?
    /// The backbone weights the head was trained on (its folder is found by name and these).
    public var backboneWeightsSha256: String?
    public var headType: String?
    /// For heads trained with `--unfreeze K`: the backbone's last K blocks were retrained and
    /// their tensors are stored with the head (`tail.N` in head.safetensors).
    public var unfrozenBlocks: Int?
    /// Shown prominently wherever the head's results appear.
    public var warning: String?
    public var trainingData: String?
    public var scoring: Scoring?
    public var metrics: [String: MetricValue]?
    public var architecture: String
    public var input: Input
    public var batchnormEpsilon: Float
    public var classes: [String]?
    public var output: String?
    public var provenance: Provenance?
    public var license: String?
    public var intendedUse: String?
    public var weightsSha256: String?
    /// For imported graphs (`"architecture": "onnx-graph"`): the graph file beside the card and the
    /// value whose map the backbone ends with (the head, and training, start from it).
    public var graph: String?
    public var featureLayer: String?
    public var graphSha256: String?

    public static func load(_ path: String) throws -> ModelCard {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError(file: path, reason: "no model card (run `make setup` to convert weights)")
        }
        return try decode(data, file: path)
    }

    /// A card from its JSON (a file's bytes, or a card as the index registered it).
    public static func decode(_ data: Data, file: String) throws -> ModelCard {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let card: ModelCard
        do { card = try decoder.decode(ModelCard.self, from: data) } catch {
            throw ModelError(file: file, reason: "unreadable model card: \(error)")
        }
        try card.input.check(file: file)
        return card
    }

    /// How a single-label head decides: the positive class at or above the threshold, else the
    /// other class. Nil for multi-label heads (see `findingRules`) and plain models.
    public var decisionRule: DecisionRule? {
        guard let scoring, let positive = scoring.positiveClass, let threshold = scoring.threshold else { return nil }
        let negative = classes?.first { $0 != positive } ?? "negative"
        return DecisionRule(threshold: threshold, positive: positive, negative: negative)
    }

    /// Whether the head's outputs are independent sigmoid probabilities, one finding each.
    public var isMultiLabel: Bool { output == "sigmoid" }

    /// A metric value as the card states it (number or text).
    public enum MetricValue: Decodable, Sendable, CustomStringConvertible {
        case number(Double), text(String), numbers([Double])
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let list = try? c.decode([Double].self) { self = .numbers(list) }
            else { self = .text(try c.decode(String.self)) }
        }
        public var description: String {
            switch self {
            case let .number(d): return String(d)
            case let .text(t): return t
            case let .numbers(list): return list.map { String(format: "%.3f", $0) }.joined(separator: "–")
            }
        }
    }

    /// Label of class `i`, or its number when the card lists none.
    public func label(_ i: Int) -> String {
        guard let classes, i < classes.count else { return "class \(i)" }
        return classes[i]
    }
}
