import DICOM
import Engine
import Foundation
import Imaging

/// `dxkit import-model`: an ONNX file made into a model folder like the shipped ones —
/// `model.json` (the card: `"architecture": "onnx-graph"`, the input and its preprocessing, the
/// classes, the ONNX file's sha256 as provenance, `feature_layer`, and `scoring` for a task head),
/// `graph.json` (the mapped graph, `GraphSpec`) and `model.safetensors` (its tensors). The folder
/// is loaded back (and the backbone/head split checked) before it is moved into place.
public struct ModelImport {
    public struct Options {
        public var name: String
        /// The user's card (JSON object): its fields are kept; what the import knows is checked against it.
        public var card: [String: Any]?
        /// [C, H, W] when the file's input dims are symbolic (or to check them); C = 0: the file's.
        public var inputShape: [Int]?
        /// The channels the user says the network takes (1 or 3): checked against the graph.
        public var channels: Int?
        public var mean: [Double]?
        public var std: [Double]?
        public var resize: String?
        public var labels: [String]?
        public var multilabel = false
        public var featureLayer: String?
        public init(name: String) { self.name = name }
    }

    /// What was written.
    public struct Summary {
        public var folder: String
        public var opset: Int
        public var nodes: Int
        public var outputs: Int
        public var featureLayer: String
        public var sha256: String
    }

    public static func run(onnx path: String, options: Options, into directory: String) throws -> Summary {
        let name = options.name
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }),
              !name.hasPrefix(".") else {
            throw ModelError(file: name, reason: "a model name is letters, digits, '-', '_' and '.' (up to 64)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let cardInput = options.card?["input"] as? [String: Any]
        var shape = options.inputShape
        if shape == nil, let h = cardInput?["height"] as? Int, let w = cardInput?["width"] as? Int, let c = cardInput?["channels"] as? Int {
            shape = [c, h, w]
        }
        let result = try ONNXImporter.read(data: data, file: path, options: .init(inputShape: shape))
        var card = options.card ?? [:]
        let multilabel = options.multilabel || (card["output"] as? String) == "sigmoid"
        let (spec, removed) = try withoutFinalProbabilities(result.spec, multilabel: multilabel, file: path)
        let (c, h, w) = (spec.inputShape[0], spec.inputShape[1], spec.inputShape[2])
        func fail(_ reason: String) -> ModelError { ModelError(file: path, reason: reason) }

        // Classes: --labels, else the card's, else numbers; as many as the graph's outputs.
        let classes = options.labels ?? (card["classes"] as? [String]) ?? (0..<result.outputs).map { "class \($0)" }
        guard classes.count == result.outputs else {
            throw fail("the graph gives \(result.outputs) outputs per image but \(classes.count) class names were given")
        }
        guard Set(classes).count == classes.count else { throw fail("class names repeat") }

        // Feature layer: the value before the global pool, unless named; checked to cut the graph.
        guard let feature = options.featureLayer ?? (card["feature_layer"] as? String) ?? spec.defaultFeatureValue else {
            throw fail("no global average pool found to split the backbone from its head; name the feature layer (--feature-layer)")
        }
        let builder = GraphBuilder(spec: spec, file: path) { name in
            guard let t = result.tensors[name] else { throw ModelError(file: path, reason: "missing tensor \(name)") }
            return t
        }
        do {
            _ = try builder.network(to: feature)
            _ = try builder.network(from: feature)
        } catch {
            throw fail("feature layer \(feature) does not split the graph into a backbone and a head: \(error)")
        }

        // Input and preprocessing.
        var input = cardInput ?? [:]
        if let declared = cardInput?["channels"] as? Int, declared != c { throw fail("the card says \(declared) channels, the graph takes \(c)") }
        if let declared = options.channels, declared != c { throw fail("--channels \(declared), but the graph takes \(c)") }
        input["height"] = h
        input["width"] = w
        input["channels"] = c
        input["color"] = input["color"] ?? (c == 1 ? "grey" : "rgb")
        guard c == 1 || c == 3 else { throw fail("the graph takes \(c) channels; dxkit feeds 1 (grey) or 3 (RGB)") }
        let resize = options.resize ?? (input["resize"] as? String) ?? "bilinear"
        try checkResize(resize, height: h, width: w, file: path)
        input["resize"] = resize
        if options.mean != nil || options.std != nil || input["normalization"] == nil {
            let mean = options.mean ?? (c == 3 ? [0.485, 0.456, 0.406] : [0.5])
            let std = options.std ?? (c == 3 ? [0.229, 0.224, 0.225] : [0.5])
            let m = mean.count == 1 ? Array(repeating: mean[0], count: c) : mean
            let s = std.count == 1 ? Array(repeating: std[0], count: c) : std
            guard m.count == c, s.count == c, s.allSatisfy({ $0 > 0 && $0.isFinite }), m.allSatisfy(\.isFinite) else {
                throw fail("--mean and --std take 1 or \(c) values (std positive)")
            }
            input["normalization"] = ["scale": s.map { 1 / (255 * $0) }, "offset": zip(m, s).map { -$0 / $1 }]
        }

        // Outputs and scoring.
        card["output"] = multilabel ? "sigmoid" : (card["output"] ?? "softmax")
        if var scoring = card["scoring"] as? [String: Any] {
            guard (scoring["routing"] as? [String: Any])?["accept_any"] is [Any] else {
                throw fail("the card's scoring has no routing.accept_any (clauses of attribute → accepted values)")
            }
            guard (scoring["aggregation"] as? [String: Any])?["rule"] is String else { throw fail("the card's scoring has no aggregation.rule") }
            card["head"] = card["head"] ?? name
            if multilabel {
                let given = (scoring["findings"] as? [[String: Any]]) ?? []
                for f in given {
                    guard let n = f["name"] as? String, classes.contains(n) else { throw fail("the card's finding \(f["name"] ?? "?") is not a class") }
                }
                scoring["findings"] = classes.map { cls -> [String: Any] in
                    var f = given.first { ($0["name"] as? String) == cls } ?? [:]
                    f["name"] = cls
                    f["threshold"] = f["threshold"] ?? 0.5
                    return f
                }
                scoring["positive_class"] = nil
                scoring["threshold"] = nil
            } else {
                guard let positive = scoring["positive_class"] as? String, classes.contains(positive) else {
                    throw fail("the card's scoring.positive_class must be one of the classes \(classes)")
                }
                guard let t = scoring["threshold"] as? Double, t >= 0, t <= 1 else { throw fail("the card's scoring.threshold must be in [0, 1]") }
            }
            card["scoring"] = scoring
        }

        // The folder, written beside its final place, then loaded back, then moved in.
        let folder = URL(fileURLWithPath: directory).appendingPathComponent(name).path
        let staging = folder + ".importing"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let sha = data.withUnsafeBytes { ContentHash.sha256($0) }
        let names = result.tensors.keys.sorted()
        try SafeTensorsWriter.write(names.map { ($0, [result.tensors[$0]!.count], result.tensors[$0]!) },
                                    metadata: ["format": "pt", "source": "dxkit import-model", "onnx_sha256": sha],
                                    to: "\(staging)/model.safetensors")
        try spec.write(to: "\(staging)/graph.json")
        let weights = try Data(contentsOf: URL(fileURLWithPath: "\(staging)/model.safetensors"))
        card["name"] = name
        card["architecture"] = "onnx-graph"
        card["graph"] = "graph.json"
        card["feature_layer"] = feature
        card["input"] = input
        card["classes"] = classes
        card["batchnorm_epsilon"] = card["batchnorm_epsilon"] ?? 1e-5
        card["weights_sha256"] = weights.withUnsafeBytes { ContentHash.sha256($0) }
        let graphBytes = try Data(contentsOf: URL(fileURLWithPath: "\(staging)/graph.json"))
        card["graph_sha256"] = graphBytes.withUnsafeBytes { ContentHash.sha256($0) }
        var provenance = card["provenance"] as? [String: Any] ?? [:]
        provenance["file"] = URL(fileURLWithPath: path).lastPathComponent
        provenance["file_sha256"] = sha
        provenance["format"] = "onnx (opset \(result.opset))"
        provenance["imported_by"] = "dxkit import-model"
        if let removed { provenance["final_activation_removed"] = removed }
        card["provenance"] = provenance
        let json = try JSONSerialization.data(withJSONObject: card, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: "\(staging)/model.json"))
        _ = try Classifier(directory: staging)
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.moveItem(atPath: staging, toPath: folder)
        return Summary(folder: folder, opset: result.opset, nodes: spec.nodes.count, outputs: result.outputs, featureLayer: feature, sha256: sha)
    }

    /// `spec` without a last node that makes the probabilities dxkit makes itself from logits (the
    /// card's `output`: softmax over the classes, or a sigmoid per finding), and that node's ONNX
    /// name ("Softmax", "Sigmoid"; nil when the graph ends in logits). Stored logits, calibration and
    /// heatmaps all work on logits, and the probability is never applied twice. A graph ending in the
    /// other kind (Softmax for a multi-label import, Sigmoid for a single-label one) is refused.
    static func withoutFinalProbabilities(_ spec: GraphSpec, multilabel: Bool, file: String) throws -> (GraphSpec, String?) {
        guard let index = spec.nodes.lastIndex(where: { $0.output == spec.output }), spec.nodes[index].inputs.count == 1 else {
            return (spec, nil)
        }
        let last = spec.nodes[index]
        let isSoftmax = last.op == "softmax", isSigmoid = last.op == "pointwise" && last.function == "sigmoid"
        guard isSoftmax || isSigmoid else { return (spec, nil) }
        if isSoftmax && multilabel {
            throw ModelError(file: file, reason: "the graph ends in Softmax (node \(last.name)), which makes its outputs exclusive; a multi-label model's outputs are independent sigmoids (export its logits, or import it without --multilabel)")
        }
        if isSigmoid && !multilabel {
            throw ModelError(file: file, reason: "the graph ends in Sigmoid (node \(last.name)): independent outputs; import it with --multilabel (one finding per output)")
        }
        var trimmed = spec
        trimmed.output = last.inputs[0]
        trimmed.nodes.remove(at: index)
        return (trimmed, isSoftmax ? "Softmax" : "Sigmoid")
    }

    /// Refuses a resize method the card could not be prepared with (`ResizeMethod` names them).
    public static func checkResize(_ resize: String, height: Int, width: Int, file: String) throws {
        guard let method = ResizeMethod(resize) else {
            throw ModelError(file: file, reason: "unknown resize \(resize) (nearest, bilinear, stretch, letterbox, shorter-S-crop-C)")
        }
        if let problem = method.problem(width: width, height: height) {
            throw ModelError(file: file, reason: "resize \(resize): \(problem)")
        }
    }
}
