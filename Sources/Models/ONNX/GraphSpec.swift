import Engine
import Foundation

/// An imported network as dxkit stores it (`graph.json` beside `model.json`): the ONNX graph after
/// the import has mapped it onto the engine's operations — BatchNorm folded, ReLU/ReLU6 fused,
/// padding taken into the convolutions, shape arithmetic evaluated — as nodes over named values.
/// Tensors are named entries of `model.safetensors`. Read back as untrusted (`GraphBuilder` checks
/// every reference and size).
public struct GraphSpec: Codable, Sendable {
    /// Bumped when the meaning of a field changes.
    public var format: Int
    /// The network's input value and its shape [C, H, W] (batch first at run time, NCHW).
    public var input: String
    public var inputShape: [Int]
    /// The value the network returns ([N, K]).
    public var output: String
    public var nodes: [Node]

    /// One operation. `op` and its fields:
    /// - `to_nhwc`: the input to the engine's layout.
    /// - `conv`: `weights` [w (OIHW), b]; `params` channels [in, out], kernel [h, w], stride [y, x],
    ///   dilation [y, x], groups [g], pads [top, left, bottom, right]; `activation`.
    /// - `affine`: `weights` [scale, shift] per channel; `activation`.
    /// - `pointwise`: `function` (sigmoid, hard_sigmoid, hard_swish, leaky_relu, clip), `floats` its parameters.
    /// - `activation`: `activation` (relu, relu6) on its own.
    /// - `add`, `sub`, `mul`: two values, broadcast; `activation`.
    /// - `const`: `weights` [values], `params` shape.
    /// - `concat`: channel concatenation.
    /// - `max_pool`, `avg_pool`: `params` kernel [k], stride [s], pads [top, left, bottom, right].
    /// - `global_avg_pool`, `flatten`, `unflatten`, `softmax`.
    /// - `dense`: `weights` [w [out, in], b].
    /// - `zero_pad`: `params` pads [top, left, bottom, right].
    public struct Node: Codable, Sendable {
        public var name: String
        public var op: String
        public var inputs: [String]
        public var output: String
        public var weights: [String]?
        public var params: [String: [Int]]?
        public var floats: [Float]?
        public var activation: String?
        public var function: String?

        public init(name: String, op: String, inputs: [String], output: String, weights: [String]? = nil,
                    params: [String: [Int]]? = nil, floats: [Float]? = nil, activation: String? = nil, function: String? = nil) {
            self.name = name; self.op = op; self.inputs = inputs; self.output = output; self.weights = weights
            self.params = params; self.floats = floats; self.activation = activation; self.function = function
        }
    }

    public static let currentFormat = 1

    public static func load(_ path: String) throws -> GraphSpec {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(file: path, reason: "no graph file") }
        do { return try JSONDecoder().decode(GraphSpec.self, from: data) } catch {
            throw ModelError(file: path, reason: "unreadable graph: \(error)")
        }
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(self)
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ModelError(file: path, reason: "cannot write the graph: \(error.localizedDescription)")
        }
    }

    /// The value whose map is the last 4-D one before the output's global pooling: the input of the
    /// last `global_avg_pool` node (nil when there is none).
    public var defaultFeatureValue: String? {
        nodes.last { $0.op == "global_avg_pool" }?.inputs.first
    }
}

extension Activation {
    /// The stored name ("identity", "relu", "relu6").
    public var storedName: String {
        switch self {
        case .identity: return "identity"
        case .relu: return "relu"
        case .relu6: return "relu6"
        }
    }

    public init?(storedName: String) {
        switch storedName {
        case "identity": self = .identity
        case "relu": self = .relu
        case "relu6": self = .relu6
        default: return nil
        }
    }
}
