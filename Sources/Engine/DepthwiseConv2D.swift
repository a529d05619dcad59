import CKernels

/// Depthwise convolution (one filter per channel) on NHWC feature maps, BatchNorm folded in and
/// activation fused: for each output pixel, each kernel tap adds weight × input along the
/// contiguous channel vector, which the compiler vectorises. Any kernel size and stride.
public final class DepthwiseConv2D: Layer, @unchecked Sendable {
    public let channels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: PaddingRule
    public let activation: Activation
    /// [ky * k + kx, c]
    public let weights: [Float]
    public let bias: [Float]

    /// `weights` as (C, 1, k, k), PyTorch's layout.
    public init(weights ckk: [Float], bias: [Float]? = nil, channels: Int, kernel: Int, stride: Int = 1,
                padding: PaddingRule, batchNorm: BatchNorm? = nil, activation: Activation = .identity) {
        precondition(ckk.count == channels * kernel * kernel, "depthwise weight count")
        self.channels = channels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.activation = activation
        var w = ckk
        var b = bias ?? [Float](repeating: 0, count: channels)
        if let batchNorm { (w, b) = batchNorm.fold(weights: w, bias: bias) }
        var packed = [Float](repeating: 0, count: w.count)
        for c in 0..<channels { for t in 0..<(kernel * kernel) { packed[t * channels + c] = w[c * kernel * kernel + t] } }
        self.weights = packed
        self.bias = b
    }

    /// Weights already packed [ky * k + kx, c] with BatchNorm folded in (a trained copy).
    public init(packed: [Float], bias: [Float], like other: DepthwiseConv2D) {
        precondition(packed.count == other.weights.count && bias.count == other.channels, "depthwise weight count")
        channels = other.channels; kernel = other.kernel; stride = other.stride
        padding = other.padding; activation = other.activation
        weights = packed
        self.bias = bias
    }

    /// Output size and the padding used for an input of `height` x `width`.
    public func outputSize(height: Int, width: Int) -> (Int, Int, Padding) {
        padding.output(height: height, width: width, kernel: kernel, stride: stride)
    }

    public var structure: LayerStructure { .leaf }
    /// The weights [ky * k + kx, c] and the bias.
    public var parameters: [[Float]] { [weights, bias] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        DepthwiseConv2D(packed: parameters.removeFirst(), bias: parameters.removeFirst(), like: self)
    }
    public func operationName(_ plan: ExecutionPlan) -> String { "depthwise \(kernel)x\(kernel) s\(stride)" }

    /// `rows` output rows of one image `height` x `width` (its top padding `padTop`) into `out`, with `isa`'s kernel.
    func run(_ image: UnsafePointer<Float>, height: Int, width: Int, padTop: Int, padLeft: Int, rows: Int, outWidth: Int,
             _ isa: ISA, _ out: UnsafeMutablePointer<Float>) {
        weights.withUnsafeBufferPointer { wt in
            bias.withUnsafeBufferPointer { b in
                dx_depthwise_nhwc(isa.rawValue, image, 1, Int32(height), Int32(width), Int32(channels), wt.baseAddress,
                                  b.baseAddress, Int32(kernel), Int32(stride), Int32(padTop), Int32(padLeft), Int32(rows),
                                  Int32(outWidth), activation.code, out)
            }
        }
    }

    public func forward(_ nhwc: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let input = nhwc.toNHWC(plan)
        precondition(input.channels == channels, "depthwise expects \(channels) channels, got \(input.channels)")
        let (n, h, w, c) = (input.batch, input.height, input.width, channels)
        let (oh, ow, pad) = outputSize(height: h, width: w)
        return Tensor(shape: [n, oh, ow, c], layout: .nhwc) { out in
            input.data.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { wt in
                    bias.withUnsafeBufferPointer { b in
                        Parallelism.outputRows(images: n, rows: oh, plan) { img, rows in
                            dx_depthwise_nhwc(plan.isa.rawValue, x.baseAddress! + img * h * w * c, 1, Int32(h), Int32(w),
                                              Int32(c), wt.baseAddress, b.baseAddress, Int32(kernel), Int32(stride),
                                              Int32(pad.top - rows.lowerBound * stride), Int32(pad.left), Int32(rows.count),
                                              Int32(ow), activation.code,
                                              out.baseAddress! + (img * oh + rows.lowerBound) * ow * c)
                        }
                    }
                }
            }
        }
    }
}
