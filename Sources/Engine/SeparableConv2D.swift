/// Depthwise then pointwise convolution (Xception's SeparableConv2D), the BatchNorm that
/// follows folded into the pointwise step. As built it runs one step after the other; the fusion
/// step (`Fusion.plan`) runs it a band of rows at a time (`BandedDepthwiseBlock`), so the
/// depthwise output stays in cache.
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

    public var structure: LayerStructure { .sequence([depthwise, pointwise]) }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        SeparableConv2D(depthwise: children[0] as! DepthwiseConv2D, pointwise: children[1] as! Conv2D)
    }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        var filtered = plan.run(depthwise, input)
        defer { ActivationBuffers.recycle(&filtered, unlessSharedWith: input) }
        return plan.run(pointwise, filtered)
    }
}

extension SeparableConv2D: AddingLayer {
    public func forward(_ input: Tensor, adding addend: Tensor, _ plan: ExecutionPlan) -> Tensor {
        var filtered = plan.run(depthwise, input)
        defer { ActivationBuffers.recycle(&filtered, unlessSharedWith: input) }
        return plan.timed("conv 1x1 + residual add") { pointwise.forward(filtered, adding: addend, plan) }
    }
}
