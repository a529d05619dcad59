/// Depthwise then pointwise convolution (Xception's SeparableConv2D), the BatchNorm that
/// follows folded into the pointwise step. With the engine's own GEMM both steps run a band of
/// rows at a time (`InvertedBottleneck`), so the depthwise output stays in cache.
public final class SeparableConv2D: Layer, @unchecked Sendable {
    public let depthwise: DepthwiseConv2D
    public let pointwise: Conv2D
    let fused: InvertedBottleneck?

    /// `depthwise` as (C, 1, k, k), `pointwise` as (Cout, C, 1, 1).
    public init(depthwise: [Float], pointwise: [Float], inChannels: Int, outChannels: Int, kernel: Int,
                stride: Int = 1, padding: PaddingRule, batchNorm: BatchNorm?, activation: Activation = .identity) {
        self.depthwise = DepthwiseConv2D(weights: depthwise, channels: inChannels, kernel: kernel, stride: stride,
                                         padding: padding)
        self.pointwise = Conv2D(weights: pointwise, outChannels: outChannels, inChannels: inChannels, kernel: (1, 1),
                                padding: .fixed(.none), batchNorm: batchNorm, activation: activation)
        fused = InvertedBottleneck([self.depthwise, self.pointwise])
    }

    /// From already built steps (a trained copy).
    public init(depthwise: DepthwiseConv2D, pointwise: Conv2D) {
        self.depthwise = depthwise
        self.pointwise = pointwise
        fused = InvertedBottleneck([depthwise, pointwise])
    }

    public func forward(_ input: Tensor) -> Tensor {
        if let fused, Parallelism.fuseBottlenecks {
            return Profiler.shared.timed("separable conv (fused)") { fused.forward(input) }
        }
        return Profiler.shared.run(pointwise, Profiler.shared.run(depthwise, input))
    }
}

extension SeparableConv2D: AddingLayer {
    func forward(_ input: Tensor, adding addend: Tensor) -> Tensor {
        if let fused, Parallelism.fuseBottlenecks {
            return Profiler.shared.timed("separable conv + residual add") { fused.forward(input, adding: addend) }
        }
        var filtered = Profiler.shared.run(depthwise, input)
        defer { ActivationBuffers.recycle(&filtered, unlessSharedWith: input) }
        return Profiler.shared.timed("conv 1x1 + residual add") { pointwise.forward(filtered, adding: addend) }
    }
}

/// Two separable convolutions in a row (Xception's blocks), as `Sequential` runs them: on large
/// maps one band-wise pass (`InvertedBottleneck(chaining:)`), the first one's output made a band
/// of rows at a time and never written out whole; on small maps one after the other. Outputs are
/// identical to running the two layers.
final class SeparablePair: Layer, AddingLayer, @unchecked Sendable {
    let first: SeparableConv2D, second: SeparableConv2D
    let chained: InvertedBottleneck

    init?(_ first: SeparableConv2D, _ second: SeparableConv2D) {
        guard let chained = InvertedBottleneck(chaining: first, second) else { return nil }
        self.first = first
        self.second = second
        self.chained = chained
    }

    func forward(_ input: Tensor) -> Tensor {
        guard Parallelism.fuseBottlenecks, chained.runsInBands(input) else {
            var middle = Profiler.shared.run(first, input)
            defer { ActivationBuffers.recycle(&middle, unlessSharedWith: input) }
            return Profiler.shared.run(second, middle)
        }
        return Profiler.shared.timed("separable conv pair (fused)") { chained.forward(input) }
    }

    func forward(_ input: Tensor, adding addend: Tensor) -> Tensor {
        guard Parallelism.fuseBottlenecks, chained.runsInBands(input) else {
            var middle = Profiler.shared.run(first, input)
            defer { ActivationBuffers.recycle(&middle, unlessSharedWith: input) }
            return second.forward(middle, adding: addend)
        }
        return Profiler.shared.timed("separable conv pair (fused) + residual add") { chained.forward(input, adding: addend) }
    }
}
