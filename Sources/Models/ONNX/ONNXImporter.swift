import Engine
import Foundation
import SwiftProtobuf

/// Reads an ONNX model (opsets 13 to 17) and maps its graph onto the engine's operations
/// (`GraphSpec` plus tensors): Conv, BatchNormalization (folded into the convolution before it
/// when that is its only reader, else a `ChannelAffine`), Relu/Clip fused into the operation that
/// makes their input, Pad taken into the convolution after it, shape arithmetic (Shape, Gather,
/// Concat of constants…) evaluated at import time. An operation dxkit does not run is refused
/// with its node's name and type, never run approximately. The file is untrusted: every size is
/// checked before anything is allocated, and a malformed file is a `ModelError`, never a crash.
public struct ONNXImporter {
    /// What the import produced.
    public struct Result {
        public var spec: GraphSpec
        /// The tensors `spec` names (flat).
        public var tensors: [String: [Float]]
        public var opset: Int
        /// Outputs per image.
        public var outputs: Int
    }

    /// Options the file may not say: the input's [C, H, W] when its dims are symbolic.
    public struct Options {
        public var inputShape: [Int]?
        public init(inputShape: [Int]? = nil) { self.inputShape = inputShape }
    }

    public static let supportedOpsets = 13...17
    /// Files larger than this are refused before reading (2 GiB, protobuf's own limit).
    static let maxFileBytes = Int(Int32.max)

    public static func read(path: String, options: Options = Options()) throws -> Result {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = attributes?[.size] as? Int else { throw ModelError(file: path, reason: "no such file") }
        guard size <= maxFileBytes else { throw ModelError(file: path, reason: "larger than 2 GiB (external-data models are not supported)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(file: path, reason: "unreadable") }
        return try read(data: data, file: path, options: options)
    }

    public static func read(data: Data, file: String, options: Options = Options()) throws -> Result {
        let model: Onnx_ModelProto
        do {
            var decoding = BinaryDecodingOptions()
            decoding.messageDepthLimit = 64
            model = try Onnx_ModelProto(serializedBytes: data, options: decoding)
        } catch {
            throw ModelError(file: file, reason: "not a readable ONNX model (truncated or damaged protobuf: \(error))")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else { throw ModelError(file: file, reason: "no graph in the file") }
        let versions = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map(\.version)
        guard let opset = versions.first, versions.count == 1 else {
            throw ModelError(file: file, reason: "no default-domain opset_import (or several)")
        }
        guard supportedOpsets.contains(Int(opset)) else {
            throw ModelError(file: file, reason: "opset \(opset) is not supported (opsets \(supportedOpsets.lowerBound) to \(supportedOpsets.upperBound) are; re-export with opset_version=13 or 17)")
        }
        var lowering = ONNXLowering(file: file, opset: Int(opset))
        try lowering.start(model.graph, inputShape: options.inputShape)
        for (i, node) in model.graph.node.enumerated() { try lowering.lower(node, index: i) }
        return try lowering.finish(model.graph)
    }
}

/// The import's working state: the values made so far (runtime maps with their NCHW shapes, batch
/// first as -1, or constants), aliases (Identity, Dropout, no-op reshapes) and the operations
/// emitted so far, fused at the end.
struct ONNXLowering {
    /// An emitted operation and its tensors (named when the spec is written).
    struct Pending {
        var node: GraphSpec.Node
        var tensors: [[Float]]
        var removed = false
    }

    let file: String
    let opset: Int
    var constants: [String: ONNXConstant] = [:]
    var shapes: [String: [Int]] = [:]
    var aliases: [String: String] = [:]
    var pending: [Pending] = []
    var emittedConstants: Set<String> = []
    var inputName = ""
    var inputShape: [Int] = []

    init(file: String, opset: Int) {
        self.file = file
        self.opset = opset
    }

    func fail(_ reason: String) -> ModelError { ModelError(file: file, reason: reason) }

    mutating func start(_ graph: Onnx_GraphProto, inputShape override: [Int]?) throws {
        guard graph.initializer.count <= 100_000, graph.node.count <= 100_000 else { throw fail("too many nodes or initializers") }
        for t in graph.initializer {
            guard !t.name.isEmpty, constants[t.name] == nil else { throw fail("initializer with an empty or repeated name \(t.name)") }
            constants[t.name] = try ONNXConstant(t, file: file, what: "initializer \(t.name)")
        }
        if !graph.sparseInitializer.isEmpty { throw fail("sparse initializers are not supported") }
        let inputs = graph.input.filter { constants[$0.name] == nil }
        guard inputs.count == 1, let input = inputs.first else {
            throw fail("the graph has \(inputs.count) inputs; dxkit imports single-input image models")
        }
        let tensorType = input.type.tensorType
        guard tensorType.elemType == 1 || tensorType.elemType == 0 else { throw fail("input \(input.name) is not float32") }
        let dims = tensorType.shape.dim.map { d -> Int? in
            if case let .dimValue(v)? = d.value, v > 0, v <= 65_536 { return Int(v) }
            return nil
        }
        var shape = dims.count == 4 ? dims.dropFirst().map { $0 ?? 0 } : []
        if var override {
            // Channels 0: the file's.
            if override.count == 3, override[0] == 0, shape.count == 3, shape[0] > 0 { override[0] = shape[0] }
            guard override.count == 3, override.allSatisfy({ $0 > 0 && $0 <= 65_536 }) else {
                throw fail("bad input shape \(override) (C, H, W; give --channels when the file does not say)")
            }
            if shape.count == 3, shape.allSatisfy({ $0 > 0 }), shape != override {
                throw fail("the file's input \(input.name) is \(shape.map(String.init).joined(separator: "x")) (C, H, W), not \(override.map(String.init).joined(separator: "x")) as given")
            }
            shape = override
        }
        guard shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw fail("input \(input.name) is not [N, C, H, W] with known C, H, W; give --input HxW and --channels")
        }
        let (area, overflow) = shape[1].multipliedReportingOverflow(by: shape[2])
        guard !overflow, area <= 1 << 24, shape[0] <= 4096 else { throw fail("input \(shape) is too large") }
        inputName = input.name
        inputShape = shape
        let nhwc = input.name + "#nhwc"
        emit(GraphSpec.Node(name: "input", op: "to_nhwc", inputs: [input.name], output: nhwc), [])
        aliases[input.name] = nhwc
        shapes[nhwc] = [-1] + shape
    }

    mutating func emit(_ node: GraphSpec.Node, _ tensors: [[Float]]) {
        pending.append(Pending(node: node, tensors: tensors))
    }

    func resolve(_ name: String) -> String { aliases[name] ?? name }

    /// The shape of a runtime value read by `node`.
    func runtime(_ name: String, _ node: NodeContext) throws -> [Int] {
        guard let shape = shapes[resolve(name)] else {
            if constants[resolve(name)] != nil { throw node.fail("input \(name) is a constant where dxkit runs only computed maps") }
            throw node.fail("reads \(name), which no supported node makes")
        }
        return shape
    }

    /// A constant input of `node` (nil when absent or empty-named).
    func constant(_ node: NodeContext, _ i: Int) -> ONNXConstant? {
        guard i < node.proto.input.count, !node.proto.input[i].isEmpty else { return nil }
        return constants[resolve(node.proto.input[i])]
    }

    func requireConstant(_ node: NodeContext, _ i: Int, _ what: String) throws -> ONNXConstant {
        guard let c = constant(node, i) else {
            let name = node.input(i)
            throw node.fail(name.isEmpty ? "its \(what) is missing"
                : "its \(what) \(name) is not a constant (no initializer or Constant node makes it)")
        }
        return c
    }

    /// Emits a `const` node for constant `name` once (a constant operand of a runtime operation).
    mutating func constantValue(_ name: String, values: [Float], shape: [Int]) -> String {
        let value = "const:" + name
        if emittedConstants.insert(value).inserted {
            emit(GraphSpec.Node(name: name, op: "const", inputs: [], output: value, params: ["shape": shape]), [values])
        }
        return value
    }
}

/// One ONNX node being lowered: its proto, a name for messages and typed attribute access.
struct NodeContext {
    let proto: Onnx_NodeProto
    let file: String
    let label: String

    init(_ proto: Onnx_NodeProto, index: Int, file: String) {
        self.proto = proto
        self.file = file
        label = proto.name.isEmpty ? "#\(index) (\(proto.output.first ?? ""))" : proto.name
    }

    func fail(_ reason: String) -> ModelError { ModelError(file: file, reason: "node \(label) (\(proto.opType)): \(reason)") }

    func attribute(_ name: String) -> Onnx_AttributeProto? { proto.attribute.first { $0.name == name } }

    func int(_ name: String, _ fallback: Int) throws -> Int {
        guard let a = attribute(name) else { return fallback }
        guard a.type == .int || a.hasI, a.i > -(1 << 31), a.i < 1 << 31 else { throw fail("attribute \(name) is not a small integer") }
        return Int(a.i)
    }

    func ints(_ name: String) throws -> [Int]? {
        guard let a = attribute(name) else { return nil }
        guard a.ints.count <= 16, a.ints.allSatisfy({ $0 > -(1 << 31) && $0 < 1 << 31 }) else { throw fail("attribute \(name) is out of range") }
        return a.ints.map { Int($0) }
    }

    func float(_ name: String, _ fallback: Float) throws -> Float {
        guard let a = attribute(name) else { return fallback }
        guard a.f.isFinite else { throw fail("attribute \(name) is not finite") }
        return a.f
    }

    func string(_ name: String) -> String? { attribute(name).map { String(decoding: $0.s, as: UTF8.self) } }

    /// The node's input `i` (empty when absent).
    func input(_ i: Int) -> String { i < proto.input.count ? proto.input[i] : "" }
    var output: String { proto.output.first ?? "" }
}
