import CBLAS
import CKernels

/// 2-D convolution on NHWC feature maps, BatchNorm folded in, activation fused. 1x1 stride-1
/// kernels are one GEMM over every pixel of the batch; stems with few input channels run a
/// direct kernel; other kernels unfold each image's windows (im2col, rows = output pixels) and
/// run one GEMM per image. Weights are kept as [kh*kw*Cin, Cout].
public final class Conv2D: Layer, @unchecked Sendable {
    public let inChannels: Int, outChannels: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let stride: Int
    public let padding: PaddingRule
    public let activation: Activation
    /// [(ky, kx, ci), co]
    public let weights: [Float]
    public let bias: [Float]
    /// `weights` packed for `PackedGEMM` (nil when it is not available).
    let panels: [Float]?

    /// `weights` in OIHW order (PyTorch's). `batchNorm`, when given, is folded into weights and bias.
    public init(weights oihw: [Float], bias: [Float]? = nil, outChannels: Int, inChannels: Int, kernel: (Int, Int),
                stride: Int = 1, padding: PaddingRule, batchNorm: BatchNorm? = nil, activation: Activation = .identity) {
        precondition(oihw.count == outChannels * inChannels * kernel.0 * kernel.1, "conv weight count")
        self.inChannels = inChannels
        self.outChannels = outChannels
        (kernelHeight, kernelWidth) = kernel
        self.stride = stride
        self.padding = padding
        self.activation = activation
        var w = oihw
        var b = bias ?? [Float](repeating: 0, count: outChannels)
        if let batchNorm { (w, b) = batchNorm.fold(weights: w, bias: bias) }
        let (kh, kw) = kernel
        let (cout, cin) = (outChannels, inChannels)
        let packed = [Float](unsafeUninitializedCapacity: w.count) { out, count in
            w.withUnsafeBufferPointer { src in
                for o in 0..<cout { for i in 0..<cin { for y in 0..<kh { for x in 0..<kw {
                    out[((y * kw + x) * cin + i) * cout + o] = src[((o * cin + i) * kh + y) * kw + x]
                } } } }
            }
            count = w.count
        }
        self.weights = packed
        self.bias = b
        panels = PackedGEMM.pack(packed, k: kh * kw * inChannels, n: outChannels)
    }

    /// Weights already packed [(ky, kx, ci), co] with BatchNorm folded in (a trained copy).
    /// `inference: false` skips packing them for `PackedGEMM` (training rebuilds its layers every
    /// step, where packing would cost more than it saves).
    public init(packed: [Float], bias: [Float], like other: Conv2D, inference: Bool = true) {
        precondition(packed.count == other.weights.count && bias.count == other.outChannels, "conv weight count")
        inChannels = other.inChannels; outChannels = other.outChannels
        kernelHeight = other.kernelHeight; kernelWidth = other.kernelWidth
        stride = other.stride; padding = other.padding; activation = other.activation
        weights = packed
        self.bias = bias
        panels = inference ? PackedGEMM.pack(packed, k: other.inChannels * other.kernelHeight * other.kernelWidth, n: other.outChannels)
                           : nil
    }

    /// Output size and the padding used for an input of `height` x `width` (square kernels).
    public func outputSize(height: Int, width: Int) -> (Int, Int, Padding) {
        padding.output(height: height, width: width, kernel: kernelHeight, stride: stride)
    }

    public func forward(_ nhwc: Tensor) -> Tensor {
        let input = nhwc.toNHWC()
        precondition(input.channels == inChannels, "conv expects \(inChannels) channels, got \(input.channels)")
        let (n, h, w) = (input.batch, input.height, input.width)
        let (oh, ow, pad) = outputSize(height: h, width: w)
        let k = inChannels * kernelHeight * kernelWidth
        let pointwise = kernelHeight == 1 && kernelWidth == 1 && pad == .none
        if inChannels <= Self.directMaxInputChannels && !pointwise {
            return Tensor(shape: [n, oh, ow, outChannels], layout: .nhwc) { out in
                input.data.withUnsafeBufferPointer { x in
                    weights.withUnsafeBufferPointer { wt in
                        bias.withUnsafeBufferPointer { b in
                            dx_conv_direct_nhwc(x.baseAddress, Int32(n), Int32(h), Int32(w), Int32(inChannels), wt.baseAddress,
                                                b.baseAddress, Int32(outChannels), Int32(kernelHeight), Int32(kernelWidth),
                                                Int32(stride), Int32(pad.top), Int32(pad.left), Int32(oh), Int32(ow),
                                                activation.code, out.baseAddress)
                        }
                    }
                }
            }
        }
        if let panels {
            return Tensor(shape: [n, oh, ow, outChannels], layout: .nhwc) { out in
                input.data.withUnsafeBufferPointer { x in
                    panels.withUnsafeBufferPointer { p in
                        bias.withUnsafeBufferPointer { b in
                            let run = { (a: UnsafePointer<Float>, rows: Int, o: UnsafeMutablePointer<Float>) in
                                PackedGEMM.run(a, rows: rows, k: k, panels: p.baseAddress!, n: self.outChannels, bias: b.baseAddress!,
                                               activation: self.activation, o)
                            }
                            if pointwise && stride == 1 { run(x.baseAddress!, n * oh * ow, out.baseAddress!); return }
                            let rows = oh * ow
                            var columns = [Float](repeating: 0, count: rows * k)
                            columns.withUnsafeMutableBufferPointer { col in
                                for img in 0..<n {
                                    Im2Col.fill(col.baseAddress!, from: x.baseAddress! + img * h * w * inChannels,
                                                channels: inChannels, height: h, width: w, kernelHeight: kernelHeight,
                                                kernelWidth: kernelWidth, stride: stride, padding: pad, outHeight: oh, outWidth: ow)
                                    run(col.baseAddress!, rows, out.baseAddress! + img * rows * outChannels)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [n, oh, ow, outChannels], layout: .nhwc) { out in
            input.data.withUnsafeBufferPointer { x in
                weights.withUnsafeBufferPointer { wt in
                    if pointwise && stride == 1 {
                        Self.gemm(x.baseAddress!, rows: n * oh * ow, k: k, wt.baseAddress!, cout: outChannels, out.baseAddress!)
                    } else {
                        let rows = oh * ow
                        var columns = [Float](repeating: 0, count: rows * k)
                        columns.withUnsafeMutableBufferPointer { col in
                            for b in 0..<n {
                                Im2Col.fill(col.baseAddress!, from: x.baseAddress! + b * h * w * inChannels,
                                            channels: inChannels, height: h, width: w, kernelHeight: kernelHeight,
                                            kernelWidth: kernelWidth, stride: stride, padding: pad, outHeight: oh, outWidth: ow)
                                Self.gemm(col.baseAddress!, rows: rows, k: k, wt.baseAddress!, cout: outChannels,
                                          out.baseAddress! + b * rows * outChannels)
                            }
                        }
                    }
                }
            }
            BiasActivation.apply(out.baseAddress!, rows: n * oh * ow, channels: outChannels, bias: bias, activation: activation)
        }
    }

    /// Convolutions with at most this many input channels (the RGB stems) run a direct kernel:
    /// im2col + GEMM with K = 27 costs more than the arithmetic.
    static let directMaxInputChannels = 4

    /// out[rows, cout] = a[rows, k] × w[k, cout]
    static func gemm(_ a: UnsafePointer<Float>, rows: Int, k: Int, _ w: UnsafePointer<Float>, cout: Int,
                     _ out: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(cout), Int32(k), 1, a, Int32(k),
                    w, Int32(cout), 0, out, Int32(cout))
    }
}

/// Adds a per-channel bias and applies the activation in place over [rows, channels].
enum BiasActivation {
    static func apply(_ data: UnsafeMutablePointer<Float>, rows: Int, channels: Int, bias: [Float], activation: Activation) {
        bias.withUnsafeBufferPointer { dx_bias_activation(data, rows, Int32(channels), $0.baseAddress, activation.code) }
    }
}

/// Unfolds one NHWC image's kernel windows into [oh*ow, kh*kw*C] (zeros where padded).
enum Im2Col {
    static func fill(_ col: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, channels c: Int, height: Int,
                     width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Padding,
                     outHeight: Int, outWidth: Int) {
        let k = kernelHeight * kernelWidth * c
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                var dst = col + (oy * outWidth + ox) * k
                for ky in 0..<kernelHeight {
                    let iy = oy * stride + ky - padding.top
                    for kx in 0..<kernelWidth {
                        let ix = ox * stride + kx - padding.left
                        if iy >= 0 && iy < height && ix >= 0 && ix < width {
                            dst.update(from: src + (iy * width + ix) * c, count: c)
                        } else {
                            dst.update(repeating: 0, count: c)
                        }
                        dst += c
                    }
                }
            }
        }
    }
}
