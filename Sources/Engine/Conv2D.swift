import CBLAS
import CKernels

/// 2-D convolution on NHWC feature maps, BatchNorm folded in, activation fused. 1x1 stride-1
/// kernels are one GEMM over every pixel of the batch; stems with few input channels run a
/// direct kernel; other kernels unfold each image's windows (im2col, rows = output pixels) and
/// run one GEMM per image. Weights are kept as [kh*kw*Cin, Cout].
public final class Conv2D: Layer, AddingLayer, @unchecked Sendable {
    public let inChannels: Int, outChannels: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let stride: Int
    public let padding: PaddingRule
    public let activation: Activation
    /// [(ky, kx, ci), co] (unpacked from `panels` on demand when only those are kept).
    public var weights: [Float] { stored.isEmpty ? PackedGEMM.unpack(panels!, k: kernelHeight * kernelWidth * inChannels, n: outChannels) : stored }
    public let bias: [Float]
    /// `weights` packed for `PackedGEMM` (nil in a training copy, which runs OpenBLAS).
    let panels: [Float]?
    /// `weights` as given, kept where a kernel reads them (the direct stem kernel, OpenBLAS in a
    /// training copy); empty when the panels alone serve inference (a network's weights are held once).
    private let stored: [Float]
    /// The weights transformed for Winograd F(4x4, 3x3), for 3x3 stride-1 kernels with 16+ input
    /// channels (nil otherwise, and in a training copy); used when the plan says `winograd`.
    let winograd: Winograd?

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
        self.bias = b
        panels = PackedGEMM.pack(packed, k: kh * kw * inChannels, n: outChannels)
        stored = panels == nil || inChannels <= Self.directMaxInputChannels ? packed : []
        winograd = Winograd.applies(kernel: kernel, stride: stride, inChannels: inChannels)
            ? Winograd(weights: packed, inChannels: inChannels, outChannels: outChannels) : nil
    }

    /// Weights already packed [(ky, kx, ci), co] with BatchNorm folded in (a trained copy).
    /// `inference: false` skips packing them for `PackedGEMM` (training rebuilds its layers every
    /// step, where packing would cost more than it saves).
    public init(packed: [Float], bias: [Float], like other: Conv2D, inference: Bool = true) {
        precondition(packed.count == other.inChannels * other.kernelHeight * other.kernelWidth * other.outChannels
                     && bias.count == other.outChannels, "conv weight count")
        inChannels = other.inChannels; outChannels = other.outChannels
        kernelHeight = other.kernelHeight; kernelWidth = other.kernelWidth
        stride = other.stride; padding = other.padding; activation = other.activation
        self.bias = bias
        panels = inference ? PackedGEMM.pack(packed, k: other.inChannels * other.kernelHeight * other.kernelWidth, n: other.outChannels)
                           : nil
        stored = panels == nil || inChannels <= Self.directMaxInputChannels ? packed : []
        winograd = inference && Winograd.applies(kernel: (kernelHeight, kernelWidth), stride: stride, inChannels: inChannels)
            ? Winograd(weights: packed, inChannels: inChannels, outChannels: outChannels) : nil
    }

    /// The same convolution (its arrays shared) with `activation` applied as it stores.
    init(_ other: Conv2D, activation: Activation) {
        inChannels = other.inChannels; outChannels = other.outChannels
        kernelHeight = other.kernelHeight; kernelWidth = other.kernelWidth
        stride = other.stride; padding = other.padding
        self.activation = activation
        bias = other.bias; panels = other.panels; stored = other.stored; winograd = other.winograd
    }

    /// Output size and the padding used for an input of `height` x `width` (square kernels).
    public func outputSize(height: Int, width: Int) -> (Int, Int, Padding) {
        padding.output(height: height, width: width, kernel: kernelHeight, stride: stride)
    }

    public var structure: LayerStructure { .leaf }
    /// The weights [(ky, kx, ci), co] and the bias.
    public var parameters: [[Float]] { [weights, bias] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        Conv2D(packed: parameters.removeFirst(), bias: parameters.removeFirst(), like: self)
    }
    public func operationName(_ plan: ExecutionPlan) -> String {
        if kernelHeight == 1 && kernelWidth == 1 { return "conv 1x1 (GEMM)" }
        let kind = runsWinograd(plan) ? "Winograd F(4x4,3x3)"
            : runsDirect ? "direct" : "im2col+GEMM"
        return "conv \(kernelHeight)x\(kernelWidth) (\(kind))"
    }

    /// Whether `plan` runs this convolution by Winograd.
    func runsWinograd(_ plan: ExecutionPlan) -> Bool { plan.winograd && winograd != nil }

    public func forward(_ nhwc: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let input = nhwc.toNHWC(plan)
        precondition(input.channels == inChannels, "conv expects \(inChannels) channels, got \(input.channels)")
        let (n, h, w) = (input.batch, input.height, input.width)
        let (oh, ow, pad) = outputSize(height: h, width: w)
        let k = inChannels * kernelHeight * kernelWidth
        let pointwise = kernelHeight == 1 && kernelWidth == 1 && pad == .none
        if runsDirect && !pointwise {
            return Tensor(shape: [n, oh, ow, outChannels], layout: .nhwc) { out in
                input.data.withUnsafeBufferPointer { x in
                    stored.withUnsafeBufferPointer { wt in
                        bias.withUnsafeBufferPointer { b in
                            Parallelism.outputRows(images: n, rows: oh, plan) { img, rows in
                                dx_conv_direct_nhwc(plan.isa.rawValue, x.baseAddress! + img * h * w * inChannels, 1,
                                                    Int32(h), Int32(w), Int32(inChannels), wt.baseAddress, b.baseAddress, Int32(outChannels),
                                                    Int32(kernelHeight), Int32(kernelWidth), Int32(stride),
                                                    Int32(pad.top - rows.lowerBound * stride), Int32(pad.left), Int32(rows.count),
                                                    Int32(ow), activation.code,
                                                    out.baseAddress! + (img * oh + rows.lowerBound) * ow * outChannels)
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [n, oh, ow, outChannels], layout: .nhwc) { out in
            input.data.withUnsafeBufferPointer { x in
                if pointwise && stride == 1 { multiply(x.baseAddress!, rows: n * oh * ow, k: k, plan, out.baseAddress!); return }
                if runsWinograd(plan), let winograd {
                    bias.withUnsafeBufferPointer { b in
                        winograd.run(x.baseAddress!, images: n, height: h, width: w, padding: pad, outHeight: oh,
                                     outWidth: ow, bias: b.baseAddress!, activation: activation, plan, out.baseAddress!)
                    }
                    return
                }
                // A band of output rows at a time, so the unfolded windows stay in cache.
                let band = max(1, min(oh, Self.columnBytes / (ow * k * MemoryLayout<Float>.size)))
                ActivationBuffers.withScratch(band * ow * k) { col in
                    for img in 0..<n {
                        for r0 in Swift.stride(from: 0, to: oh, by: band) {
                            let rows = min(band, oh - r0)
                            Im2Col.fill(col, from: x.baseAddress! + img * h * w * inChannels,
                                        channels: inChannels, height: h, width: w, kernelHeight: kernelHeight,
                                        kernelWidth: kernelWidth, stride: stride, padding: pad, outRows: r0..<(r0 + rows),
                                        outWidth: ow)
                            multiply(col, rows: rows * ow, k: k, plan, out.baseAddress! + (img * oh + r0) * ow * outChannels)
                        }
                    }
                }
            }
        }
    }

    /// Bytes of unfolded windows (im2col) a band of output rows aims at.
    static let columnBytes = 256 * 1024

    /// out[rows, cout] = act(a[rows, k] × W + bias) (+ addend): the packed GEMM (bias, activation
    /// and addend fused) or OpenBLAS then the bias/activation pass (and the addition).
    /// `afterAdd` (this convolution's own activation the identity): act(a × W + bias + addend).
    func multiply(_ a: UnsafePointer<Float>, rows: Int, k: Int, adding addend: UnsafePointer<Float>? = nil,
                  afterAdd: Activation = .identity, _ plan: ExecutionPlan, _ out: UnsafeMutablePointer<Float>) {
        bias.withUnsafeBufferPointer { b in
            if let panels {
                panels.withUnsafeBufferPointer { p in
                    PackedGEMM.run(a, rows: rows, k: k, panels: p.baseAddress!, n: outChannels, bias: b.baseAddress!,
                                   activation: activation, adding: addend, afterAdd: afterAdd, plan, out)
                }
            } else {
                stored.withUnsafeBufferPointer { Self.gemm(a, rows: rows, k: k, $0.baseAddress!, cout: outChannels, out) }
                dx_bias_activation(plan.isa.rawValue, out, rows, Int32(outChannels), b.baseAddress, activation.code)
                if let addend { dx_add_activation(plan.isa.rawValue, out, addend, out, rows * outChannels, afterAdd.code) }
            }
        }
    }

    /// `forward(input)` + `addend` (a residual connection's other branch, the output's shape):
    /// a 1x1 convolution adds it as the GEMM stores its tiles; others add it afterwards.
    public func forward(_ nhwc: Tensor, adding addend: Tensor, _ plan: ExecutionPlan) -> Tensor {
        forward(nhwc, adding: addend, then: .identity, plan)
    }

    /// `then`(`forward(input)` + `addend`) — a ResNet bottleneck's last convolution (no activation
    /// of its own), its residual sum and the ReLU after it, made as the GEMM stores its tiles when
    /// this is a 1x1 convolution (bit for bit the separate addition's result).
    public func forward(_ nhwc: Tensor, adding addend: Tensor, then after: Activation, _ plan: ExecutionPlan) -> Tensor {
        let input = nhwc.toNHWC(plan)
        precondition(after == .identity || activation == .identity, "an activation both before and after the addition")
        guard isPointwise, addend.layout == .nhwc, addend.shape == [input.batch, input.height, input.width, outChannels]
        else {
            var y = forward(input, plan)
            let sum = Elementwise.add(y, addend, activation: after, plan)
            ActivationBuffers.recycle(&y, unlessSharedWith: addend, sum)
            return sum
        }
        precondition(input.channels == inChannels, "conv expects \(inChannels) channels, got \(input.channels)")
        return Tensor(shape: addend.shape, layout: .nhwc) { out in
            input.data.withUnsafeBufferPointer { x in
                addend.data.withUnsafeBufferPointer { r in
                    multiply(x.baseAddress!, rows: input.batch * input.height * input.width, k: inChannels,
                             adding: r.baseAddress!, afterAdd: after, plan, out.baseAddress!)
                }
            }
        }
    }

    /// A 1x1 stride-1 convolution without padding: one GEMM over the pixels.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && stride == 1 && outputSize(height: 9, width: 9).2 == .none
    }

    /// `multiply` on the calling core alone, with the packed GEMM (`panels` must exist) for `isa`.
    func multiplyOnThisCore(_ a: UnsafePointer<Float>, rows: Int, adding addend: UnsafePointer<Float>? = nil, _ isa: ISA,
                            _ out: UnsafeMutablePointer<Float>) {
        panels!.withUnsafeBufferPointer { p in
            bias.withUnsafeBufferPointer { b in
                dx_gemm_packed_add(isa.rawValue, a, Int32(rows), Int32(inChannels), p.baseAddress, Int32(outChannels),
                                   Int32(outChannels), b.baseAddress, activation.code, addend, out)
            }
        }
    }

    /// Convolutions with at most this many input channels (the RGB stems) run a direct kernel:
    /// im2col + GEMM with K = 27 costs more than the arithmetic.
    static let directMaxInputChannels = 4

    /// Whether this convolution runs the direct kernel: few input channels and a kernel of at most
    /// 3x3 (MobileNetV2's, EfficientNet's and Xception's stems); a 7x7 stem (DenseNet, ResNet; K = 147)
    /// runs im2col (a kernel row's taps copied at once) + the packed GEMM, measured faster here
    /// (ResNet-50's stem, one core, batch 16, a loaded machine: 2.6 ms an image against 3.2 ms direct).
    var runsDirect: Bool { inChannels <= Self.directMaxInputChannels && kernelHeight <= 3 && kernelWidth <= 3 }

    /// out[rows, cout] = a[rows, k] × w[k, cout]
    static func gemm(_ a: UnsafePointer<Float>, rows: Int, k: Int, _ w: UnsafePointer<Float>, cout: Int,
                     _ out: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(cout), Int32(k), 1, a, Int32(k),
                    w, Int32(cout), 0, out, Int32(cout))
    }
}

/// Unfolds one NHWC image's kernel windows for output rows `outRows` into [rows*ow, kh*kw*C]
/// (zeros where padded).
enum Im2Col {
    static func fill(_ col: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, channels c: Int, height: Int,
                     width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Padding,
                     outRows: Range<Int>, outWidth: Int) {
        let k = kernelHeight * kernelWidth * c
        for oy in outRows {
            for ox in 0..<outWidth {
                var dst = col + ((oy - outRows.lowerBound) * outWidth + ox) * k
                for ky in 0..<kernelHeight {
                    let iy = oy * stride + ky - padding.top
                    let ix0 = ox * stride - padding.left
                    if iy >= 0 && iy < height && ix0 >= 0 && ix0 + kernelWidth <= width {
                        // The kernel row lies inside the image: its taps are contiguous in NHWC.
                        dst.update(from: src + (iy * width + ix0) * c, count: kernelWidth * c)
                        dst += kernelWidth * c
                        continue
                    }
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
