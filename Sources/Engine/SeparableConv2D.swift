/// Depthwise then pointwise convolution (Xception's SeparableConv2D), the BatchNorm that
/// follows folded into the pointwise step.
public final class SeparableConv2D: Layer, @unchecked Sendable {
    public let depthwise: DepthwiseConv2D
    public let pointwise: Conv2D

    /// `depthwise` as (C, 1, k, k), `pointwise` as (Cout, C, 1, 1).
    public init(depthwise: [Float], pointwise: [Float], inChannels: Int, outChannels: Int, kernel: Int,
                stride: Int = 1, padding: PaddingRule, batchNorm: BatchNorm?, activation: Activation = .identity) {
        self.depthwise = DepthwiseConv2D(weights: depthwise, channels: inChannels, kernel: kernel, stride: stride,
                                         padding: padding)
        self.pointwise = Conv2D(weights: pointwise, outChannels: outChannels, inChannels: inChannels, kernel: (1, 1),
                                padding: .fixed(.none), batchNorm: batchNorm, activation: activation)
    }

    /// From already built steps (a trained copy).
    public init(depthwise: DepthwiseConv2D, pointwise: Conv2D) {
        self.depthwise = depthwise
        self.pointwise = pointwise
    }

    public func forward(_ input: Tensor) -> Tensor { Profiler.shared.run(pointwise, Profiler.shared.run(depthwise, input)) }
}
