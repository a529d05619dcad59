/// A 2-D convolution in its general form — groups (any divisor of the channels, depthwise with a
/// channel multiplier included), dilations, rectangular kernels and strides, asymmetric padding —
/// on NHWC maps, bias and activation applied as it stores. A straightforward loop: imported
/// graphs use it only for convolutions that `Conv2D` and `DepthwiseConv2D` (the fast paths) do
/// not cover.
public final class GroupedConv2D: Layer, @unchecked Sendable {
    public let inChannels: Int, outChannels: Int, groups: Int
    public let kernel: (height: Int, width: Int)
    public let stride: (y: Int, x: Int)
    public let dilation: (y: Int, x: Int)
    public let padding: Padding
    public let activation: Activation
    /// [Cout, Cin / groups, kh, kw] (ONNX's and PyTorch's layout).
    public let weights: [Float]
    public let bias: [Float]

    public init(weights: [Float], bias: [Float]?, inChannels: Int, outChannels: Int, groups: Int, kernel: (Int, Int),
                stride: (Int, Int), dilation: (Int, Int), padding: Padding, activation: Activation = .identity) {
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0, "conv groups")
        precondition(weights.count == outChannels * (inChannels / groups) * kernel.0 * kernel.1, "conv weight count")
        self.inChannels = inChannels; self.outChannels = outChannels; self.groups = groups
        self.kernel = (kernel.0, kernel.1); self.stride = (stride.0, stride.1); self.dilation = (dilation.0, dilation.1)
        self.padding = padding; self.activation = activation
        self.weights = weights
        self.bias = bias ?? [Float](repeating: 0, count: outChannels)
    }

    /// The same convolution with `activation` applied as it stores.
    public func applying(_ activation: Activation) -> GroupedConv2D {
        GroupedConv2D(weights: weights, bias: bias, inChannels: inChannels, outChannels: outChannels, groups: groups,
                      kernel: (kernel.height, kernel.width), stride: (stride.y, stride.x), dilation: (dilation.y, dilation.x),
                      padding: padding, activation: activation)
    }

    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [weights, bias] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        GroupedConv2D(weights: parameters.removeFirst(), bias: parameters.removeFirst(), inChannels: inChannels,
                      outChannels: outChannels, groups: groups, kernel: (kernel.height, kernel.width),
                      stride: (stride.y, stride.x), dilation: (dilation.y, dilation.x), padding: padding, activation: activation)
    }
    public func operationName(_ plan: ExecutionPlan) -> String { "conv \(kernel.height)x\(kernel.width) grouped (direct)" }

    /// Output height and width for an input of `height` x `width`.
    public func outputSize(height: Int, width: Int) -> (Int, Int) {
        ((height + padding.top + padding.bottom - dilation.y * (kernel.height - 1) - 1) / stride.y + 1,
         (width + padding.left + padding.right - dilation.x * (kernel.width - 1) - 1) / stride.x + 1)
    }

    public func forward(_ nhwc: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let x = nhwc.toNHWC(plan)
        precondition(x.channels == inChannels, "conv expects \(inChannels) channels, got \(x.channels)")
        let (n, h, w) = (x.batch, x.height, x.width)
        let (oh, ow) = outputSize(height: h, width: w)
        let cinG = inChannels / groups, coutG = outChannels / groups
        let (kh, kw) = kernel
        return Tensor(shape: [n, oh, ow, outChannels], layout: .nhwc) { out in
            x.data.withUnsafeBufferPointer { src in
                weights.withUnsafeBufferPointer { wt in
                    for b in 0..<n { for oy in 0..<oh { for ox in 0..<ow {
                        let o = ((b * oh + oy) * ow + ox) * outChannels
                        for co in 0..<outChannels {
                            let g = co / coutG
                            var s = bias[co]
                            for ky in 0..<kh {
                                let iy = oy * stride.y + ky * dilation.y - padding.top
                                guard iy >= 0 && iy < h else { continue }
                                for kx in 0..<kw {
                                    let ix = ox * stride.x + kx * dilation.x - padding.left
                                    guard ix >= 0 && ix < w else { continue }
                                    let p = ((b * h + iy) * w + ix) * inChannels + g * cinG
                                    let wb = (co * cinG * kh + ky) * kw + kx
                                    for ci in 0..<cinG { s += src[p + ci] * wt[wb + ci * kh * kw] }
                                }
                            }
                            out[o + co] = activation.apply(s)
                        }
                    } } }
                }
            }
        }
    }
}
