import CKernels
import Foundation

/// A network stage that maps one NCHW batch to another. Layers are built once (weights
/// folded and laid out for their kernels) and are safe to call from several threads at once.
public protocol Layer: AnyObject, Sendable {
    func forward(_ input: Tensor) -> Tensor
}

/// Layers applied in order; an inverted residual block's body runs fused, a band of rows at a
/// time (`InvertedBottleneck`), as do two separable convolutions in a row (`SeparablePair`), and
/// an activation that follows a convolution is applied as the convolution stores its output
/// (same values). Maps made here go back to the thread's pool once used.
public final class Sequential: Layer, @unchecked Sendable {
    public let layers: [Layer]
    let bottleneck: InvertedBottleneck?
    /// `layers` as run: an activation that follows a convolution is applied as the convolution stores.
    let plan: [Layer]
    public init(_ layers: [Layer]) {
        self.layers = layers
        bottleneck = InvertedBottleneck(layers)
        plan = Self.pairingSeparables(Self.foldingActivations(layers))
    }

    /// Consecutive separable convolutions taken two at a time from the front (`SeparablePair`).
    static func pairingSeparables(_ layers: [Layer]) -> [Layer] {
        var plan: [Layer] = []
        var i = 0
        while i < layers.count {
            if i + 1 < layers.count, let a = layers[i] as? SeparableConv2D, let b = layers[i + 1] as? SeparableConv2D,
               let pair = SeparablePair(a, b) {
                plan.append(pair)
                i += 2
            } else {
                plan.append(layers[i])
                i += 1
            }
        }
        return plan
    }

    static func foldingActivations(_ layers: [Layer]) -> [Layer] {
        var plan: [Layer] = []
        for layer in layers {
            if let relu = layer as? ActivationLayer, let folded = (plan.last as? ActivationFoldable)?.applying(relu.activation) {
                plan[plan.count - 1] = folded
            } else {
                plan.append(layer)
            }
        }
        return plan
    }
    public func forward(_ input: Tensor) -> Tensor {
        if let bottleneck, Parallelism.fuseBottlenecks {
            return Profiler.shared.timed("inverted residual (fused)") { bottleneck.forward(input) }
        }
        return run(plan[...], input)
    }

    /// Whether `forward(_:adding:)` adds as its last layer stores (the fused inverted residual
    /// body's projecting GEMM, or the plan's last layer).
    var addsAsItStores: Bool {
        bottleneck != nil && Parallelism.fuseBottlenecks || plan.last is AddingLayer
    }

    /// `forward(input)` + `addend`, the sum made by the last layer as it stores (`addsAsItStores`).
    func forward(_ input: Tensor, adding addend: Tensor) -> Tensor {
        if let bottleneck, Parallelism.fuseBottlenecks {
            return Profiler.shared.timed("inverted residual (fused) + residual add") { bottleneck.forward(input, adding: addend) }
        }
        guard let last = plan.last as? AddingLayer else { return Elementwise.add(consuming: forward(input), addend) }
        var x = run(plan.dropLast(), input)
        let y = last.forward(x, adding: addend)
        if plan.count > 1 { ActivationBuffers.recycle(&x, unlessSharedWith: input, y, addend) }
        return y
    }

    private func run(_ layers: ArraySlice<Layer>, _ input: Tensor) -> Tensor {
        var x = input
        for (i, layer) in layers.enumerated() {
            let y = Profiler.shared.run(layer, x)
            // A map made here that the next layers no longer need goes back to the pool.
            if i > 0 { ActivationBuffers.recycle(&x, unlessSharedWith: input, y) }
            x = y
        }
        return x
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

    public func forward(_ input: Tensor) -> Tensor {
        // The body's last layer adds the other branch as it stores its output, when it can.
        if activation == .identity, let body = body as? Sequential, body.addsAsItStores {
            var b = shortcut.map { Profiler.shared.run($0, input) } ?? input
            let sum = body.forward(input, adding: b)
            if shortcut != nil { ActivationBuffers.recycle(&b, unlessSharedWith: input, sum) }
            return sum
        }
        var a = Profiler.shared.run(body, input)
        var b = shortcut.map { Profiler.shared.run($0, input) } ?? input
        let sum = Profiler.shared.timed("residual add") { Elementwise.add(a, b, activation: activation) }
        ActivationBuffers.recycle(&a, unlessSharedWith: input, sum)
        if shortcut != nil { ActivationBuffers.recycle(&b, unlessSharedWith: input, sum) }
        return sum
    }
}

/// A layer that can apply an activation to its own output as it stores it.
protocol ActivationFoldable {
    /// This layer followed by `activation`, or nil when it already applies one.
    func applying(_ activation: Activation) -> Layer?
}

extension Conv2D: ActivationFoldable {
    func applying(_ activation: Activation) -> Layer? { self.activation == .identity ? Conv2D(self, activation: activation) : nil }
}

extension SeparableConv2D: ActivationFoldable {
    func applying(_ activation: Activation) -> Layer? {
        guard let pointwise = pointwise.applying(activation) as? Conv2D else { return nil }
        return SeparableConv2D(depthwise: depthwise, pointwise: pointwise)
    }
}

/// A standalone activation (for networks that apply one before a convolution, like Xception).
public final class ActivationLayer: Layer, @unchecked Sendable {
    public let activation: Activation
    public init(_ activation: Activation) { self.activation = activation }
    public func forward(_ input: Tensor) -> Tensor {
        Tensor(shape: input.shape, layout: input.layout) { out in
            input.data.withUnsafeBufferPointer { dx_activation($0.baseAddress, out.baseAddress, out.count, activation.code) }
        }
    }
}

/// A layer that can add a map of its output's shape to its output as it stores it, so that a
/// residual connection's sum takes no pass of its own: `forward(x, adding: r)` equals
/// `forward(x)` + r exactly (the addition comes after the layer's own activation).
protocol AddingLayer: Layer {
    func forward(_ input: Tensor, adding addend: Tensor) -> Tensor
}

extension Conv2D: AddingLayer {}

public enum Elementwise {
    /// `a` + `b`, `a`'s storage given back to the thread's pool (a map made only to be added).
    static func add(consuming a: Tensor, _ b: Tensor) -> Tensor {
        var a = a
        let sum = add(a, b)
        ActivationBuffers.recycle(&a, unlessSharedWith: b, sum)
        return sum
    }

    public static func add(_ a: Tensor, _ b: Tensor, activation: Activation = .identity) -> Tensor {
        precondition(a.shape == b.shape, "cannot add \(a.shape) and \(b.shape)")
        return Tensor(shape: a.shape, layout: a.layout) { out in
            a.data.withUnsafeBufferPointer { x in
                b.data.withUnsafeBufferPointer { y in
                    dx_add_activation(x.baseAddress, y.baseAddress, out.baseAddress, out.count, activation.code)
                }
            }
        }
    }
}

/// Scales each item's feature vector ([N, C, 1, 1] or [N, C]) to unit Euclidean length.
public final class L2Normalize: Layer, @unchecked Sendable {
    public init() {}
    public func forward(_ input: Tensor) -> Tensor {
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
