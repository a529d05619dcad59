import Foundation

/// A network that is a DAG rather than a chain (an imported ONNX graph): nodes over numbered value
/// slots, run in order. Slot 0 holds the input; constants sit in slots of their own. Each node is a
/// `Layer` on one value or a multi-input operation (`GraphOperation`: broadcast arithmetic, channel
/// concatenation). A value's storage goes back to the thread's pool (`ActivationBuffers.recycle`)
/// as soon as its last consumer has run, so a deep graph holds only the maps still needed.
public final class GraphNetwork: Layer, @unchecked Sendable {
    /// One step: `operation` over the values in `inputs`, its result stored in `output`.
    public struct Node: Sendable {
        public let name: String
        public let inputs: [Int]
        public let output: Int
        public let operation: GraphOperation
        public init(name: String, inputs: [Int], output: Int, operation: GraphOperation) {
            self.name = name; self.inputs = inputs; self.output = output; self.operation = operation
        }
    }

    public let nodes: [Node]
    public let slotCount: Int
    public let outputSlot: Int
    /// Constant values by slot (batch-independent: broadcast over the batch).
    public let constants: [Int: Tensor]
    /// For each node, the slots whose last reader it is (given back after it ran).
    private let releases: [[Int]]

    /// Checks that every node reads only slots written before it (or the input, or a constant).
    public init(nodes: [Node], slotCount: Int, outputSlot: Int, constants: [Int: Tensor]) throws {
        var written = Set(constants.keys).union([0])
        var lastUse = [Int](repeating: -1, count: slotCount)
        for (i, node) in nodes.enumerated() {
            for s in node.inputs {
                guard s >= 0, s < slotCount, written.contains(s) else { throw GraphError("node \(node.name) reads slot \(s) before it is written") }
                lastUse[s] = i
            }
            guard node.output > 0, node.output < slotCount, !written.contains(node.output) else {
                throw GraphError("node \(node.name) writes slot \(node.output) twice or out of range")
            }
            if case let .layer(layer) = node.operation, node.inputs.count != 1 { throw GraphError("node \(node.name): layer \(layer) takes one input") }
            written.insert(node.output)
        }
        guard written.contains(outputSlot) else { throw GraphError("the output slot \(outputSlot) is never written") }
        var releases = [[Int]](repeating: [], count: nodes.count)
        for (slot, i) in lastUse.enumerated() where i >= 0 && slot != 0 && slot != outputSlot && constants[slot] == nil {
            releases[i].append(slot)
        }
        self.nodes = nodes
        self.slotCount = slotCount
        self.outputSlot = outputSlot
        self.constants = constants
        self.releases = releases
    }

    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "graph (\(nodes.count) nodes)" }

    /// The same graph with `transform` applied to each node's layer (the fusion step).
    public func mapLayers(_ transform: (Layer) -> Layer) -> GraphNetwork {
        let mapped = nodes.map { node -> Node in
            guard case let .layer(layer) = node.operation else { return node }
            return Node(name: node.name, inputs: node.inputs, output: node.output, operation: .layer(transform(layer)))
        }
        return (try? GraphNetwork(nodes: mapped, slotCount: slotCount, outputSlot: outputSlot, constants: constants)) ?? self
    }

    /// The layers of the nodes that are layers, in order.
    public var layers: [Layer] {
        nodes.compactMap { if case let .layer(layer) = $0.operation { return layer } else { return nil } }
    }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        var slots = [Tensor?](repeating: nil, count: slotCount)
        slots[0] = input
        for (slot, value) in constants { slots[slot] = value }
        for (i, node) in nodes.enumerated() {
            let y: Tensor
            switch node.operation {
            case let .layer(layer): y = plan.run(layer, slots[node.inputs[0]]!)
            case let .binary(op, activation):
                y = plan.timed("elementwise \(op)") { Broadcast.apply(op, slots[node.inputs[0]]!, slots[node.inputs[1]]!, activation, plan) }
            case .concat:
                y = plan.timed("concat") { ChannelConcat.apply(node.inputs.map { slots[$0]! }) }
            }
            slots[node.output] = y
            for s in releases[i] {
                guard var t = slots[s] else { continue }
                slots[s] = nil
                ActivationBuffers.recycle(&t, unlessSharedWith: input, y)
            }
        }
        return slots[outputSlot]!
    }
}

/// What a graph node does.
public enum GraphOperation: @unchecked Sendable {
    /// A layer on one value.
    case layer(Layer)
    /// Element-wise arithmetic of two values with broadcasting (`Broadcast`), then an activation.
    case binary(BinaryOperator, Activation)
    /// Concatenation along the channels (NHWC maps of one size, or [N, K] vectors).
    case concat
}

/// An inconsistent graph (a stored graph that was edited, or a bug in the importer).
public struct GraphError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
