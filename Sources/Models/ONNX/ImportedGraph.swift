import DICOM
import Engine
import Foundation

/// An imported model's layers (`"architecture": "onnx-graph"`): its stored graph split at the card's
/// `feature_layer` into the backbone (input → feature map, a `GraphNetwork`) and the head (feature
/// map → scores). A head that is a chain — global pool then dense layers, the usual case — is built
/// as plain layers, so class activation maps (`ActivationMap`) and training read it like a shipped one.
public enum ImportedGraph {
    public static func layers(card: ModelCard, directory: String, weights: SafeTensors) throws -> (features: Sequential, head: Sequential) {
        let name = card.graph ?? "graph.json"
        guard !name.contains("/"), !name.hasPrefix(".") else {
            throw ModelError(file: "\(directory)/model.json", reason: "graph \(name) must be a file beside the card")
        }
        let path = "\(directory)/\(name)"
        if let expected = card.graphSha256 {
            guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(file: path, reason: "no graph file") }
            guard data.withUnsafeBytes({ ContentHash.sha256($0) }) == expected else {
                throw ModelError(file: path, reason: "the graph differs from the one imported (sha256 on the card); import the model again")
            }
        }
        let spec = try GraphSpec.load(path)
        guard spec.format == GraphSpec.currentFormat else {
            throw ModelError(file: path, reason: "graph format \(spec.format) (this dxkit reads \(GraphSpec.currentFormat)); import the model again")
        }
        guard spec.inputShape == [card.input.channels, card.input.height, card.input.width] else {
            throw ModelError(file: path, reason: "the graph takes \(spec.inputShape), the card says \([card.input.channels, card.input.height, card.input.width])")
        }
        let builder = GraphBuilder(spec: spec, file: path) { try weights.tensor($0) }
        guard let feature = card.featureLayer ?? spec.defaultFeatureValue else {
            throw ModelError(file: "\(directory)/model.json", reason: "no feature_layer and no global pool in the graph")
        }
        let features = try builder.network(to: feature)
        let head = try builder.network(from: feature)
        return (Sequential([features]), Sequential(chain(head) ?? [head]))
    }

    /// `graph`'s layers when it is a chain of single-input layers without constants (a flatten right
    /// after the global pool dropped: dense layers take [N, C, 1, 1] as it is), else nil.
    static func chain(_ graph: GraphNetwork) -> [Layer]? {
        guard graph.constants.isEmpty else { return nil }
        var layers: [Layer] = []
        var last = 0
        for node in graph.nodes {
            guard case let .layer(layer) = node.operation, node.inputs == [last] else { return nil }
            last = node.output
            if layer is FlattenLayer, layers.last is GlobalAveragePool { continue }
            layers.append(layer)
        }
        return last == graph.outputSlot ? layers : nil
    }
}
