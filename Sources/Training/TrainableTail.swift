import Engine

/// The last K blocks of a backbone as a trainable network. It mirrors the blocks' layer tree,
/// walked generically through each layer's `structure` (sequences, residual connections) down to
/// its leaves (`TrainableLayer`: convolutions, depthwise convolutions, activations, pooling), runs
/// it forward keeping what the backward pass needs, and returns the gradients of every tensor in
/// `LayerParameters` order. BatchNorm is folded into the convolutions, so its statistics stay
/// frozen. One forward then one backward at a time (not thread-safe).
public final class TrainableTail {
    let nodes: [Node]
    /// The blocks as built (their tensors are the starting point of training).
    public let blocks: [Layer]

    /// `blocks`: the backbone's last top-level layers, in order.
    public init(_ blocks: [Layer]) throws {
        self.blocks = blocks
        var index = 0
        nodes = try blocks.map { try Node.make($0, index: &index) }
    }

    /// The starting tensors, in `LayerParameters` order.
    public var initialParameters: [[Float]] { blocks.flatMap { LayerParameters.of($0)! } }

    /// Output of the tail for `input` (NHWC) with `parameters`, run as `plan` says, remembering
    /// activations for `backward`.
    public func forward(_ input: Tensor, _ parameters: [[Float]], plan: ExecutionPlan = .default) -> Tensor {
        nodes.reduce(input) { $1.forward($0, parameters, plan) }
    }

    /// Gradients of every tensor, given the loss gradient at the output of the last `forward`.
    public func backward(_ dy: Tensor, _ parameters: [[Float]], plan: ExecutionPlan = .default) -> [[Float]] {
        var grads = parameters.map { _ in [Float]() }  // each filled by its layer's first gradient
        var g = dy
        for (i, node) in nodes.enumerated().reversed() {
            guard let dx = node.backward(g, parameters, &grads, inputGradient: i > 0, plan) else { break }
            g = dx
        }
        return zip(grads, parameters).map { $0.isEmpty ? [Float](repeating: 0, count: $1.count) : $0 }
    }

    /// Inference layers holding `parameters`.
    public func layers(_ parameters: [[Float]]) -> [Layer] {
        var index = 0
        return blocks.map { LayerParameters.replacing($0, with: parameters, index: &index) }
    }
}

/// One layer of the tail's tree, with what its backward pass needs from the last forward.
class Node {
    func forward(_ x: Tensor, _ p: [[Float]], _ plan: ExecutionPlan) -> Tensor { x }
    /// Adds this node's parameter gradients to `g`; returns the input gradient when asked for.
    func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool, _ plan: ExecutionPlan) -> Tensor? { dy }

    /// The node of `layer`, its tensors from `index` on (advanced past them).
    static func make(_ layer: Layer, index: inout Int) throws -> Node {
        switch layer.structure {
        case let .sequence(children): return SequenceNode(try children.map { try make($0, index: &index) })
        case let .residual(body, shortcut, activation):
            let body = try make(body, index: &index)
            return ResidualNode(body: body, shortcut: try shortcut.map { try make($0, index: &index) }, activation: activation)
        case .leaf:
            guard let leaf = layer as? TrainableLayer else {
                throw TrainingError(file: "--unfreeze", reason: "cannot train a \(type(of: layer)) layer")
            }
            defer { index += leaf.parameters.count }
            return LeafNode(leaf, index: index, count: leaf.parameters.count)
        }
    }
}

/// A leaf layer whose tensors are `count` from `index` on in the tail's tensors.
final class LeafNode: Node {
    let template: TrainableLayer
    let tensors: Range<Int>
    /// The last forward's input, output and layer (holding that step's tensors).
    var input: Tensor?, output: Tensor?, layer: TrainableLayer?

    init(_ template: TrainableLayer, index: Int, count: Int) {
        self.template = template
        tensors = index..<(index + count)
    }

    override func forward(_ x: Tensor, _ p: [[Float]], _ plan: ExecutionPlan) -> Tensor {
        let l = template.trainingCopy(p[tensors])
        (input, layer) = (x, l)
        output = l.forward(x, plan)
        return output!
    }

    override func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool, _ plan: ExecutionPlan) -> Tensor? {
        let (dx, grads) = layer!.gradients(input: input!, output: output!, dy: dy, inputGradient: inputGradient, plan)
        for (i, grad) in zip(tensors, grads) { accumulate(&g[i], grad) }
        return dx
    }
}

final class SequenceNode: Node {
    let children: [Node]
    init(_ children: [Node]) { self.children = children }

    override func forward(_ x: Tensor, _ p: [[Float]], _ plan: ExecutionPlan) -> Tensor { children.reduce(x) { $1.forward($0, p, plan) } }

    override func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool, _ plan: ExecutionPlan) -> Tensor? {
        var d: Tensor? = dy
        for (i, child) in children.enumerated().reversed() {
            d = child.backward(d!, p, &g, inputGradient: inputGradient || i > 0, plan)
        }
        return d
    }
}

final class ResidualNode: Node {
    let body: Node, shortcut: Node?, activation: Activation
    var output: Tensor?
    init(body: Node, shortcut: Node?, activation: Activation) { self.body = body; self.shortcut = shortcut; self.activation = activation }

    override func forward(_ x: Tensor, _ p: [[Float]], _ plan: ExecutionPlan) -> Tensor {
        output = Elementwise.add(body.forward(x, p, plan), shortcut?.forward(x, p, plan) ?? x, activation: activation, plan)
        return output!
    }

    override func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool, _ plan: ExecutionPlan) -> Tensor? {
        let d = Gradients.activation(dy, output: output!, activation, plan)
        let throughBody = body.backward(d, p, &g, inputGradient: inputGradient, plan)
        let throughShortcut = shortcut.map { $0.backward(d, p, &g, inputGradient: inputGradient, plan) } ?? d
        guard inputGradient, var sum = throughBody, let other = throughShortcut else { return nil }
        accumulate(&sum.data, other.data)
        return sum
    }
}

/// a += b; an empty `a` (no gradient yet) takes `b` as it is.
@inline(__always) func accumulate(_ a: inout [Float], _ b: [Float]) {
    guard !a.isEmpty else { a = b; return }
    a.withUnsafeMutableBufferPointer { x in b.withUnsafeBufferPointer { y in for i in 0..<x.count { x[i] += y[i] } } }
}
