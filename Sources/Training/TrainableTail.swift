import Engine

/// The last K blocks of a backbone as a trainable network. It mirrors the blocks' layer tree
/// (sequences, residuals, separable, depthwise and ordinary convolutions, activations, pooling),
/// runs them forward keeping what the backward pass needs, and returns the gradients of every
/// tensor in `LayerParameters` order. BatchNorm is folded into the convolutions, so its
/// statistics stay frozen. One forward then one backward at a time (not thread-safe).
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

    /// Output of the tail for `input` (NHWC) with `parameters`, remembering activations for `backward`.
    public func forward(_ input: Tensor, _ parameters: [[Float]]) -> Tensor {
        nodes.reduce(input) { $1.forward($0, parameters) }
    }

    /// Gradients of every tensor, given the loss gradient at the output of the last `forward`.
    public func backward(_ dy: Tensor, _ parameters: [[Float]]) -> [[Float]] {
        var grads = parameters.map { _ in [Float]() }  // each filled by its layer's first gradient
        var g = dy
        for (i, node) in nodes.enumerated().reversed() {
            guard let dx = node.backward(g, parameters, &grads, inputGradient: i > 0) else { break }
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
    func forward(_ x: Tensor, _ p: [[Float]]) -> Tensor { x }
    /// Adds this node's parameter gradients to `g`; returns the input gradient when asked for.
    func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool) -> Tensor? { dy }

    static func make(_ layer: Layer, index: inout Int) throws -> Node {
        switch layer {
        case let l as Conv2D: defer { index += 2 }; return WeightedNode.conv(l, index)
        case let l as DepthwiseConv2D: defer { index += 2 }; return WeightedNode.depthwise(l, index)
        case let l as SeparableConv2D:
            return SequenceNode([try make(l.depthwise, index: &index), try make(l.pointwise, index: &index)])
        case let l as Sequential: return SequenceNode(try l.layers.map { try make($0, index: &index) })
        case let l as Residual:
            let body = try make(l.body, index: &index)
            return ResidualNode(body: body, shortcut: try l.shortcut.map { try make($0, index: &index) }, activation: l.activation)
        case let l as ActivationLayer: return ActivationNode(l.activation)
        case let l as MaxPool2D: return PoolNode(max: l, average: nil)
        case let l as AvgPool2D: return PoolNode(max: nil, average: l)
        default: throw TrainingError(file: "--unfreeze", reason: "cannot train a \(type(of: layer)) layer")
        }
    }
}

/// A convolution (ordinary or depthwise) with its weights and bias at `index` in the tensors.
final class WeightedNode: Node {
    let index: Int
    let activation: Activation
    /// Builds the layer holding the current weights and bias.
    let build: ([Float], [Float]) -> Layer
    /// (layer, input, gradient before the activation, input gradient wanted?) → (dX, dW, dB)
    let gradient: (Layer, Tensor, Tensor, Bool) -> (Tensor?, [Float], [Float])
    var input: Tensor?, output: Tensor?, layer: Layer?

    init(index: Int, activation: Activation, build: @escaping ([Float], [Float]) -> Layer,
         gradient: @escaping (Layer, Tensor, Tensor, Bool) -> (Tensor?, [Float], [Float])) {
        self.index = index
        self.activation = activation
        self.build = build
        self.gradient = gradient
    }

    static func conv(_ template: Conv2D, _ index: Int) -> WeightedNode {
        WeightedNode(index: index, activation: template.activation, build: { Conv2D(packed: $0, bias: $1, like: template, inference: false) },
                     gradient: { Gradients.conv($0 as! Conv2D, input: $1, dPre: $2, inputGradient: $3) })
    }

    static func depthwise(_ template: DepthwiseConv2D, _ index: Int) -> WeightedNode {
        WeightedNode(index: index, activation: template.activation, build: { DepthwiseConv2D(packed: $0, bias: $1, like: template) },
                     gradient: { Gradients.depthwise($0 as! DepthwiseConv2D, input: $1, dPre: $2, inputGradient: $3) })
    }

    override func forward(_ x: Tensor, _ p: [[Float]]) -> Tensor {
        let l = build(p[index], p[index + 1])
        (input, layer) = (x, l)
        output = l.forward(x)
        return output!
    }

    override func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool) -> Tensor? {
        let dPre = Gradients.activation(dy, output: output!, activation)
        let (dx, dw, db) = gradient(layer!, input!, dPre, inputGradient)
        accumulate(&g[index], dw)
        accumulate(&g[index + 1], db)
        return dx
    }
}

final class SequenceNode: Node {
    let children: [Node]
    init(_ children: [Node]) { self.children = children }

    override func forward(_ x: Tensor, _ p: [[Float]]) -> Tensor { children.reduce(x) { $1.forward($0, p) } }

    override func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool) -> Tensor? {
        var d: Tensor? = dy
        for (i, child) in children.enumerated().reversed() {
            d = child.backward(d!, p, &g, inputGradient: inputGradient || i > 0)
        }
        return d
    }
}

final class ResidualNode: Node {
    let body: Node, shortcut: Node?, activation: Activation
    var output: Tensor?
    init(body: Node, shortcut: Node?, activation: Activation) { self.body = body; self.shortcut = shortcut; self.activation = activation }

    override func forward(_ x: Tensor, _ p: [[Float]]) -> Tensor {
        output = Elementwise.add(body.forward(x, p), shortcut?.forward(x, p) ?? x, activation: activation)
        return output!
    }

    override func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool) -> Tensor? {
        let d = Gradients.activation(dy, output: output!, activation)
        let throughBody = body.backward(d, p, &g, inputGradient: inputGradient)
        let throughShortcut = shortcut.map { $0.backward(d, p, &g, inputGradient: inputGradient) } ?? d
        guard inputGradient, var sum = throughBody, let other = throughShortcut else { return nil }
        accumulate(&sum.data, other.data)
        return sum
    }
}

final class ActivationNode: Node {
    let activation: Activation
    var output: Tensor?
    init(_ activation: Activation) { self.activation = activation }

    override func forward(_ x: Tensor, _ p: [[Float]]) -> Tensor {
        var y = x
        y.data.withUnsafeMutableBufferPointer { activation.apply($0) }
        output = y
        return y
    }

    override func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool) -> Tensor? {
        inputGradient ? Gradients.activation(dy, output: output!, activation) : nil
    }
}

final class PoolNode: Node {
    let max: MaxPool2D?, average: AvgPool2D?
    var input: Tensor?
    init(max: MaxPool2D?, average: AvgPool2D?) { self.max = max; self.average = average }

    override func forward(_ x: Tensor, _ p: [[Float]]) -> Tensor {
        input = x
        return max?.forward(x) ?? average!.forward(x)
    }

    override func backward(_ dy: Tensor, _ p: [[Float]], _ g: inout [[Float]], inputGradient: Bool) -> Tensor? {
        guard inputGradient else { return nil }
        if let max { return Gradients.maxPool(max, input: input!, dy: dy) }
        return Gradients.averagePool(average!, input: input!, dy: dy)
    }
}

/// a += b; an empty `a` (no gradient yet) takes `b` as it is.
@inline(__always) func accumulate(_ a: inout [Float], _ b: [Float]) {
    guard !a.isEmpty else { a = b; return }
    a.withUnsafeMutableBufferPointer { x in b.withUnsafeBufferPointer { y in for i in 0..<x.count { x[i] += y[i] } } }
}
