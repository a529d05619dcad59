/// Depthwise convolution (one filter per channel) with BatchNorm folded in and a fused
/// activation: a direct kernel over a zero-padded copy of each channel, any kernel size and
/// stride, the inner loop running along output columns.
public final class DepthwiseConv2D: Layer, @unchecked Sendable {
    public let channels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: PaddingRule
    public let activation: Activation
    /// [channels, kernel * kernel]
    public let weights: [Float]
    public let bias: [Float]

    /// `weights` as (C, 1, k, k).
    public init(weights: [Float], bias: [Float]? = nil, channels: Int, kernel: Int, stride: Int = 1,
                padding: PaddingRule, batchNorm: BatchNorm? = nil, activation: Activation = .identity) {
        precondition(weights.count == channels * kernel * kernel, "depthwise weight count")
        self.channels = channels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.activation = activation
        if let batchNorm {
            (self.weights, self.bias) = batchNorm.fold(weights: weights, bias: bias)
        } else {
            self.weights = weights
            self.bias = bias ?? [Float](repeating: 0, count: channels)
        }
    }

    public func forward(_ input: Tensor) -> Tensor {
        precondition(input.channels == channels, "depthwise expects \(channels) channels, got \(input.channels)")
        let (h, w) = (input.height, input.width)
        let pad = padding.resolve(height: h, width: w, kernel: kernel, stride: stride)
        let oh = Padding.output(h, kernel: kernel, stride: stride, before: pad.top, after: pad.bottom)
        let ow = Padding.output(w, kernel: kernel, stride: stride, before: pad.left, after: pad.right)
        let ph = h + pad.top + pad.bottom, pw = w + pad.left + pad.right
        var padded = [Float](repeating: 0, count: ph * pw)
        let k = kernel, s = stride
        return Tensor(shape: [input.batch, channels, oh, ow]) { out in
            input.data.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { wt in
                    padded.withUnsafeMutableBufferPointer { pbuf in
                        let p = pbuf.baseAddress!
                        for n in 0..<input.batch {
                            for c in 0..<channels {
                                let src = x.baseAddress! + (n * channels + c) * h * w
                                for y in 0..<h {
                                    (p + (y + pad.top) * pw + pad.left).update(from: src + y * w, count: w)
                                }
                                let dst = out.baseAddress! + (n * channels + c) * oh * ow
                                let f = wt.baseAddress! + c * k * k
                                let b = bias[c]
                                for oy in 0..<oh {
                                    let row = dst + oy * ow
                                    for ox in 0..<ow { row[ox] = b }
                                    for ky in 0..<k {
                                        let line = p + (oy * s + ky) * pw
                                        for kx in 0..<k {
                                            let wv = f[ky * k + kx]
                                            let start = line + kx
                                            if s == 1 {
                                                for ox in 0..<ow { row[ox] += wv * start[ox] }
                                            } else {
                                                for ox in 0..<ow { row[ox] += wv * start[ox * s] }
                                            }
                                        }
                                    }
                                    switch activation {
                                    case .identity: break
                                    case .relu: for ox in 0..<ow { row[ox] = max(row[ox], 0) }
                                    case .relu6: for ox in 0..<ow { row[ox] = min(max(row[ox], 0), 6) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
