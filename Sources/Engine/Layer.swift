import CKernels
import Foundation

/// A network stage that maps one NCHW or NHWC batch to another. Layers are built once (weights
/// folded and laid out for their kernels), hold no run-time settings (those come with each call's
/// `ExecutionPlan`) and are safe to call from several threads at once, under different plans too.
///
/// A layer tree is walked generically, as tinygrad's `get_state_dict` walks a model's attributes:
/// `structure` says how a layer is made of others (its `children`), `parameters` lists its own
/// tensors, `replacing(children:taking:)` rebuilds it around new ones. Training (`LayerParameters`,
/// `TrainableTail`), the fusion step (`Fusion`) and profiling go through these, not through the
/// concrete layer types.
public protocol Layer: AnyObject, Sendable {
    /// This layer's output for `input`, run as `plan` says.
    func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor
    /// How this layer is made of others: `.leaf` for an operation of its own.
    var structure: LayerStructure { get }
    /// This layer's own tensors (its children's excluded), in the order training reads them:
    /// a convolution's weights (laid out as its kernels read them) then its bias; none for most.
    var parameters: [[Float]] { get }
    /// A copy of this layer with `children` in place of its own (as `children` lists them) and
    /// its own tensors taken from the front of `parameters` (as many as `parameters` lists; each
    /// the same size), for inference.
    func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer
    /// What profiling calls this layer's work under `plan` (for leaves).
    func operationName(_ plan: ExecutionPlan) -> String
}

extension Layer {
    public func operationName(_ plan: ExecutionPlan) -> String { String(describing: type(of: self)) }

    /// The layers this one is made of, in `parameters` order (none for a leaf).
    public var children: [Layer] {
        switch structure {
        case .leaf: return []
        case let .sequence(layers): return layers
        case let .residual(body, shortcut, _): return shortcut.map { [body, $0] } ?? [body]
        }
    }
}

/// How a layer is made of others.
public enum LayerStructure {
    /// An operation of its own (a convolution, a pool, an activation…).
    case leaf
    /// `layers` applied one after another.
    case sequence([Layer])
    /// `activation(body(x) + shortcut(x))`, the shortcut the identity when nil.
    case residual(body: Layer, shortcut: Layer?, activation: Activation)
}

/// Layers applied in order, each intermediate map given back to the thread's pool once used. As
/// built, every layer runs on its own; `Fusion.plan` turns a network into one whose sequences run
/// fused blocks (an inverted residual body, separable convolutions a band of rows at a time,
/// activations applied as the convolution before them stores).
public final class Sequential: Layer, @unchecked Sendable {
    public let layers: [Layer]
    public init(_ layers: [Layer]) { self.layers = layers }

    public var structure: LayerStructure { .sequence(layers) }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { Sequential(children) }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor { run(layers[...], input, plan) }

    func run(_ layers: ArraySlice<Layer>, _ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        var x = input
        for (i, layer) in layers.enumerated() {
            let y = plan.run(layer, x)
            // A map made here that the next layers no longer need goes back to the pool.
            if i > 0 { ActivationBuffers.recycle(&x, unlessSharedWith: input, y) }
            x = y
        }
        return x
    }
}

extension Sequential: AddingLayer {
    /// Whether the last layer adds as it stores.
    public var addsAsItStores: Bool { (layers.last as? AddingLayer)?.addsAsItStores ?? false }

    /// `forward(input)` + `addend`, the sum made by the last layer as it stores when it can.
    public func forward(_ input: Tensor, adding addend: Tensor, _ plan: ExecutionPlan) -> Tensor {
        guard let last = layers.last as? AddingLayer else { return Elementwise.add(consuming: forward(input, plan), addend, plan) }
        var x = run(layers.dropLast(), input, plan)
        let y = last.forward(x, adding: addend, plan)
        if layers.count > 1 { ActivationBuffers.recycle(&x, unlessSharedWith: input, y, addend) }
        return y
    }
}

/// Runs `body` and adds its output to its input (a residual connection), then an activation.
public final class Residual: Layer, @unchecked Sendable {
    public let body: Layer
    public let shortcut: Layer?
    public let activation: Activation

    public init(_ body: Layer, shortcut: Layer? = nil, activation: Activation = .identity) {
        self.body = body
        self.shortcut = shortcut
        self.activation = activation
    }

    public var structure: LayerStructure { .residual(body: body, shortcut: shortcut, activation: activation) }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        Residual(children[0], shortcut: shortcut == nil ? nil : children[1], activation: activation)
    }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        // The body's last layer adds the other branch as it stores its output, when it can.
        if activation == .identity, let body = body as? AddingLayer, body.addsAsItStores {
            var b = shortcut.map { plan.run($0, input) } ?? input
            let sum = body.forward(input, adding: b, plan)
            if shortcut != nil { ActivationBuffers.recycle(&b, unlessSharedWith: input, sum) }
            return sum
        }
        // A body ending in a 1x1 convolution without an activation (ResNet's bottleneck): the sum
        // and the activation after it made as that convolution's GEMM stores its tiles.
        if let body = body as? Sequential, body.layers.count > 1, let last = body.layers.last as? Conv2D,
           last.activation == .identity, last.isPointwise {
            var b = shortcut.map { plan.run($0, input) } ?? input
            var x = body.run(body.layers.dropLast(), input, plan)
            let sum = plan.timed("conv 1x1 (GEMM) + residual add + \(activation)") { last.forward(x, adding: b, then: activation, plan) }
            ActivationBuffers.recycle(&x, unlessSharedWith: input, sum)
            if shortcut != nil { ActivationBuffers.recycle(&b, unlessSharedWith: input, sum) }
            return sum
        }
        var a = plan.run(body, input)
        var b = shortcut.map { plan.run($0, input) } ?? input
        let sum = plan.timed("residual add") { Elementwise.add(a, b, activation: activation, plan) }
        ActivationBuffers.recycle(&a, unlessSharedWith: input, sum)
        if shortcut != nil { ActivationBuffers.recycle(&b, unlessSharedWith: input, sum) }
        return sum
    }
}

/// A standalone activation (for networks that apply one before a convolution, like Xception).
public final class ActivationLayer: Layer, @unchecked Sendable {
    public let activation: Activation
    public init(_ activation: Activation) { self.activation = activation }

    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "activation" }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        Tensor(shape: input.shape, layout: input.layout) { out in
            input.data.withUnsafeBufferPointer {
                dx_activation(plan.isa.rawValue, $0.baseAddress, out.baseAddress, out.count, activation.code)
            }
        }
    }
}

/// A layer that can add a map of its output's shape to its output as it stores it, so that a
/// residual connection's sum takes no pass of its own: `forward(x, adding: r, plan)` equals
/// `forward(x, plan)` + r exactly (the addition comes after the layer's own activation).
public protocol AddingLayer: Layer {
    func forward(_ input: Tensor, adding addend: Tensor, _ plan: ExecutionPlan) -> Tensor
    /// Whether the sum is made as the output is stored (else `forward(_:adding:_:)` adds afterwards).
    var addsAsItStores: Bool { get }
}

extension AddingLayer {
    public var addsAsItStores: Bool { true }
}

public enum Elementwise {
    /// `a` + `b`, `a`'s storage given back to the thread's pool (a map made only to be added).
    static func add(consuming a: Tensor, _ b: Tensor, _ plan: ExecutionPlan) -> Tensor {
        var a = a
        let sum = add(a, b, plan)
        ActivationBuffers.recycle(&a, unlessSharedWith: b, sum)
        return sum
    }

    public static func add(_ a: Tensor, _ b: Tensor, activation: Activation = .identity, _ plan: ExecutionPlan) -> Tensor {
        precondition(a.shape == b.shape, "cannot add \(a.shape) and \(b.shape)")
        return Tensor(shape: a.shape, layout: a.layout) { out in
            a.data.withUnsafeBufferPointer { x in
                b.data.withUnsafeBufferPointer { y in
                    dx_add_activation(plan.isa.rawValue, x.baseAddress, y.baseAddress, out.baseAddress, out.count,
                                      activation.code)
                }
            }
        }
    }
}

/// Scales each item's feature vector ([N, C, 1, 1] or [N, C]) to unit Euclidean length.
public final class L2Normalize: Layer, @unchecked Sendable {
    public init() {}

    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let n = input.shape[0], c = input.count / n
        var out = input
        for i in 0..<n {
            var s: Float = 0
            for j in 0..<c { s += out.data[i * c + j] * out.data[i * c + j] }
            let inv = 1 / max(s.squareRoot(), 1e-12)
            for j in 0..<c { out.data[i * c + j] *= inv }
        }
        return out
    }
}
