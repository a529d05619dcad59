import CBLAS

/// 2-D convolution with BatchNorm folded in and a fused activation. General kernels run as
/// im2col + `cblas_sgemm`; 1x1 stride-1 unpadded kernels are a plain GEMM on the input.
public final class Conv2D: Layer, @unchecked Sendable {
    public let inChannels: Int, outChannels: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let stride: Int
    public let padding: PaddingRule
    public let activation: Activation
    /// [outChannels, inChannels * kernelHeight * kernelWidth]
    public let weights: [Float]
    public let bias: [Float]

    /// `weights` in OIHW order. `batchNorm`, when given, is folded into weights and bias.
    public init(weights: [Float], bias: [Float]? = nil, outChannels: Int, inChannels: Int, kernel: (Int, Int),
                stride: Int = 1, padding: PaddingRule, batchNorm: BatchNorm? = nil, activation: Activation = .identity) {
        precondition(weights.count == outChannels * inChannels * kernel.0 * kernel.1, "conv weight count")
        self.inChannels = inChannels
        self.outChannels = outChannels
        (kernelHeight, kernelWidth) = kernel
        self.stride = stride
        self.padding = padding
        self.activation = activation
        if let batchNorm {
            (self.weights, self.bias) = batchNorm.fold(weights: weights, bias: bias)
        } else {
            self.weights = weights
            self.bias = bias ?? [Float](repeating: 0, count: outChannels)
        }
    }

    public func outputSize(height: Int, width: Int) -> (Int, Int, Padding) {
        let p = padding.resolve(height: height, width: width, kernel: kernelHeight, stride: stride)
        return (Padding.output(height, kernel: kernelHeight, stride: stride, before: p.top, after: p.bottom),
                Padding.output(width, kernel: kernelWidth, stride: stride, before: p.left, after: p.right), p)
    }

    public func forward(_ input: Tensor) -> Tensor {
        precondition(input.channels == inChannels, "conv expects \(inChannels) channels, got \(input.channels)")
        let (h, w) = (input.height, input.width)
        let (oh, ow, pad) = outputSize(height: h, width: w)
        let k = inChannels * kernelHeight * kernelWidth
        let pointwise = kernelHeight == 1 && kernelWidth == 1 && stride == 1 && pad == .none
        var columns = pointwise ? [] : [Float](repeating: 0, count: k * oh * ow)
        return Tensor(shape: [input.batch, outChannels, oh, ow]) { out in
            input.data.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { wt in
                    for n in 0..<input.batch {
                        let src = x.baseAddress! + n * inChannels * h * w
                        let dst = out.baseAddress! + n * outChannels * oh * ow
                        if pointwise {
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(oh * ow),
                                        Int32(k), 1, wt.baseAddress, Int32(k), src, Int32(oh * ow), 0, dst, Int32(oh * ow))
                        } else {
                            columns.withUnsafeMutableBufferPointer { col in
                                Im2Col.fill(col.baseAddress!, from: src, channels: inChannels, height: h, width: w,
                                            kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride,
                                            padding: pad, outHeight: oh, outWidth: ow)
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels),
                                            Int32(oh * ow), Int32(k), 1, wt.baseAddress, Int32(k), col.baseAddress,
                                            Int32(oh * ow), 0, dst, Int32(oh * ow))
                            }
                        }
                        BiasActivation.apply(dst, channels: outChannels, plane: oh * ow, bias: bias, activation: activation)
                    }
                }
            }
        }
    }
}

/// Adds a per-channel bias and applies the activation in place over [C, plane].
enum BiasActivation {
    static func apply(_ data: UnsafeMutablePointer<Float>, channels: Int, plane: Int, bias: [Float], activation: Activation) {
        bias.withUnsafeBufferPointer { b in
            for c in 0..<channels {
                let row = data + c * plane
                let v = b[c]
                switch activation {
                case .identity: for i in 0..<plane { row[i] += v }
                case .relu: for i in 0..<plane { row[i] = max(row[i] + v, 0) }
                case .relu6: for i in 0..<plane { row[i] = min(max(row[i] + v, 0), 6) }
                }
            }
        }
    }
}

/// Unfolds padded, strided kernel windows into a [C*kh*kw, oh*ow] matrix.
enum Im2Col {
    static func fill(_ col: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, channels: Int, height: Int,
                     width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Padding,
                     outHeight: Int, outWidth: Int) {
        let plane = outHeight * outWidth
        for c in 0..<channels {
            let image = src + c * height * width
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let row = col + ((c * kernelHeight + ky) * kernelWidth + kx) * plane
                    for oy in 0..<outHeight {
                        let iy = oy * stride + ky - padding.top
                        let dst = row + oy * outWidth
                        if iy < 0 || iy >= height {
                            dst.update(repeating: 0, count: outWidth)
                            continue
                        }
                        let line = image + iy * width
                        for ox in 0..<outWidth {
                            let ix = ox * stride + kx - padding.left
                            dst[ox] = ix >= 0 && ix < width ? line[ix] : 0
                        }
                    }
                }
            }
        }
    }
}
