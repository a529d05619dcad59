import CBLAS
import CKernels

/// Backward passes of the engine's ops on NHWC maps, for fine-tuning the last blocks of a
/// backbone. Each takes the gradient of the loss with respect to an op's output and returns the
/// gradients with respect to its input and parameters, in the layouts the forward ops use
/// (convolution weights packed [(ky, kx, ci), co], depthwise [ky * k + kx, c]). BatchNorm is
/// folded into the convolutions, so its statistics stay frozen by construction.
public enum Gradients {
    /// Gradient before a fused activation, from the gradient after it and the activation's output
    /// (with `plan.isa`'s kernel).
    public static func activation(_ dy: Tensor, output y: Tensor, _ activation: Activation, _ plan: ExecutionPlan) -> Tensor {
        guard activation != .identity else { return dy }
        precondition(dy.count == y.count, "activation gradient shape")
        var dx = dy
        dx.data.withUnsafeMutableBufferPointer { d in
            y.data.withUnsafeBufferPointer { o in
                dx_activation_backward(plan.isa.rawValue, o.baseAddress, d.baseAddress, d.count, activation.code)
            }
        }
        return dx
    }

    /// Convolution (activation excluded: pass the gradient before it). `dPre` is [N, OH, OW, Cout].
    /// Returns dX (nil when `inputGradient` is false), dW packed like `layer.weights`, and dB.
    public static func conv(_ layer: Conv2D, input: Tensor, dPre: Tensor, inputGradient: Bool = true)
        -> (dx: Tensor?, dw: [Float], db: [Float]) {
        let x = input.toNHWC()
        let (n, h, w, cin, cout) = (x.batch, x.height, x.width, layer.inChannels, layer.outChannels)
        let (oh, ow, pad) = layer.outputSize(height: h, width: w)
        precondition(dPre.shape == [n, oh, ow, cout], "conv gradient shape \(dPre.shape)")
        let k = cin * layer.kernelHeight * layer.kernelWidth
        var dw = [Float](repeating: 0, count: k * cout)
        let db = columnSums(dPre.data, rows: n * oh * ow, columns: cout)
        var dx: Tensor? = inputGradient ? Tensor(zeros: [n, h, w, cin], layout: .nhwc) : nil
        let pointwise = layer.kernelHeight == 1 && layer.kernelWidth == 1 && layer.stride == 1 && pad == .none
        x.data.withUnsafeBufferPointer { xp in
            dPre.data.withUnsafeBufferPointer { gp in
                layer.weights.withUnsafeBufferPointer { wp in
                    dw.withUnsafeMutableBufferPointer { dwp in
                        if pointwise {
                            let rows = n * h * w
                            // dW[cin, cout] = Xᵀ dPre;  dX[rows, cin] = dPre Wᵀ
                            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(cin), Int32(cout), Int32(rows), 1,
                                        xp.baseAddress, Int32(cin), gp.baseAddress, Int32(cout), 0, dwp.baseAddress, Int32(cout))
                            if dx != nil {
                                dx!.data.withUnsafeMutableBufferPointer { dxp in
                                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(cin), Int32(cout), 1,
                                                gp.baseAddress, Int32(cout), wp.baseAddress, Int32(cout), 0, dxp.baseAddress, Int32(cin))
                                }
                            }
                            return
                        }
                        let rows = oh * ow
                        var col = [Float](repeating: 0, count: rows * k)
                        col.withUnsafeMutableBufferPointer { cp in
                            for b in 0..<n {
                                let g = gp.baseAddress! + b * rows * cout
                                Im2Col.fill(cp.baseAddress!, from: xp.baseAddress! + b * h * w * cin, channels: cin, height: h,
                                            width: w, kernelHeight: layer.kernelHeight, kernelWidth: layer.kernelWidth,
                                            stride: layer.stride, padding: pad, outRows: 0..<oh, outWidth: ow)
                                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(cout), Int32(rows), 1,
                                            cp.baseAddress, Int32(k), g, Int32(cout), 1, dwp.baseAddress, Int32(cout))
                                guard dx != nil else { continue }
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(k), Int32(cout), 1,
                                            g, Int32(cout), wp.baseAddress, Int32(cout), 0, cp.baseAddress, Int32(k))
                                dx!.data.withUnsafeMutableBufferPointer { dxp in
                                    Col2Im.add(cp.baseAddress!, into: dxp.baseAddress! + b * h * w * cin, channels: cin,
                                               height: h, width: w, kernelHeight: layer.kernelHeight,
                                               kernelWidth: layer.kernelWidth, stride: layer.stride, padding: pad,
                                               outHeight: oh, outWidth: ow)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dw, db)
    }

    /// Depthwise convolution (activation excluded). Returns dX, dW packed [ky * k + kx, c], dB.
    public static func depthwise(_ layer: DepthwiseConv2D, input: Tensor, dPre: Tensor, inputGradient: Bool = true)
        -> (dx: Tensor?, dw: [Float], db: [Float]) {
        let x = input.toNHWC()
        let (n, h, w, c, k) = (x.batch, x.height, x.width, layer.channels, layer.kernel)
        let (oh, ow, pad) = layer.outputSize(height: h, width: w)
        precondition(dPre.shape == [n, oh, ow, c], "depthwise gradient shape \(dPre.shape)")
        var dw = [Float](repeating: 0, count: k * k * c)
        let db = columnSums(dPre.data, rows: n * oh * ow, columns: c)
        var dx = Tensor(zeros: [n, h, w, c], layout: .nhwc)
        x.data.withUnsafeBufferPointer { xp in
            dPre.data.withUnsafeBufferPointer { gp in
                layer.weights.withUnsafeBufferPointer { wp in
                    dw.withUnsafeMutableBufferPointer { dwp in
                        dx.data.withUnsafeMutableBufferPointer { dxp in
                            for b in 0..<n { for oy in 0..<oh { for ox in 0..<ow {
                                let g = gp.baseAddress! + ((b * oh + oy) * ow + ox) * c
                                for ky in 0..<k {
                                    let iy = oy * layer.stride + ky - pad.top
                                    guard iy >= 0 && iy < h else { continue }
                                    for kx in 0..<k {
                                        let ix = ox * layer.stride + kx - pad.left
                                        guard ix >= 0 && ix < w else { continue }
                                        let at = ((b * h + iy) * w + ix) * c, t = (ky * k + kx) * c
                                        let xi = xp.baseAddress! + at, di = dxp.baseAddress! + at
                                        let wt = wp.baseAddress! + t, dwt = dwp.baseAddress! + t
                                        for j in 0..<c {
                                            dwt[j] += g[j] * xi[j]
                                            di[j] += g[j] * wt[j]
                                        }
                                    }
                                }
                            } } }
                        }
                    }
                }
            }
        }
        return (inputGradient ? dx : nil, dw, db)
    }

    /// Max pooling: each output's gradient goes to the first input position holding the window's maximum.
    public static func maxPool(_ layer: MaxPool2D, input: Tensor, dy: Tensor) -> Tensor {
        pool(input.toNHWC(), dy: dy, kernel: layer.kernel, stride: layer.stride, padding: layer.padding, average: false)
    }

    /// Average pooling (padding excluded from the count, as in the forward op).
    public static func averagePool(_ layer: AvgPool2D, input: Tensor, dy: Tensor) -> Tensor {
        pool(input.toNHWC(), dy: dy, kernel: layer.kernel, stride: layer.stride, padding: layer.padding, average: true)
    }

    /// Global average pooling: [N, C] gradient spread evenly over each channel's plane of `input`.
    public static func globalAveragePool(input: Tensor, dy: Tensor) -> Tensor {
        let x = input.toNHWC()
        let (n, plane, c) = (x.batch, x.height * x.width, x.channels)
        precondition(dy.count == n * c, "pooled gradient shape")
        return Tensor(shape: x.shape, layout: .nhwc) { out in
            for b in 0..<n { for p in 0..<plane { for j in 0..<c { out[(b * plane + p) * c + j] = dy.data[b * c + j] / Float(plane) } } }
        }
    }

    /// Dense y = W x + b (activation excluded): dX [N, in], dW [out, in], dB [out].
    public static func dense(_ layer: Dense, input: Tensor, dPre: Tensor) -> (dx: Tensor, dw: [Float], db: [Float]) {
        let (n, fin, fout) = (input.batch, layer.inFeatures, layer.outFeatures)
        precondition(dPre.count == n * fout && input.count == n * fin, "dense gradient shape")
        var dw = [Float](repeating: 0, count: fout * fin)
        var dx = Tensor(zeros: [n, fin])
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(fout), Int32(fin), Int32(n), 1, dPre.data, Int32(fout),
                    input.data, Int32(fin), 0, &dw, Int32(fin))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(fin), Int32(fout), 1, dPre.data, Int32(fout),
                    layer.weights, Int32(fin), 0, &dx.data, Int32(fin))
        return (dx, dw, columnSums(dPre.data, rows: n, columns: fout))
    }

    static func columnSums(_ m: [Float], rows: Int, columns: Int) -> [Float] {
        var s = [Float](repeating: 0, count: columns)
        m.withUnsafeBufferPointer { p in
            for r in 0..<rows { let row = p.baseAddress! + r * columns; for j in 0..<columns { s[j] += row[j] } }
        }
        return s
    }

    static func pool(_ x: Tensor, dy: Tensor, kernel: Int, stride: Int, padding: PaddingRule, average: Bool) -> Tensor {
        let (n, h, w, c) = (x.batch, x.height, x.width, x.channels)
        let (oh, ow, pad) = padding.output(height: h, width: w, kernel: kernel, stride: stride)
        precondition(dy.shape == [n, oh, ow, c], "pool gradient shape \(dy.shape)")
        var dx = Tensor(zeros: x.shape, layout: .nhwc)
        var best = [Float](repeating: 0, count: c), at = [Int](repeating: 0, count: c)
        for b in 0..<n { for oy in 0..<oh { for ox in 0..<ow {
            let g = ((b * oh + oy) * ow + ox) * c
            let y0 = oy * stride - pad.top, x0 = ox * stride - pad.left
            let ys = max(0, y0)..<min(h, y0 + kernel), xs = max(0, x0)..<min(w, x0 + kernel)
            if average {
                let share = 1 / Float(ys.count * xs.count)
                for iy in ys { for ix in xs {
                    let i = ((b * h + iy) * w + ix) * c
                    for j in 0..<c { dx.data[i + j] += dy.data[g + j] * share }
                } }
                continue
            }
            for j in 0..<c { best[j] = -.infinity; at[j] = 0 }
            for iy in ys { for ix in xs {
                let i = ((b * h + iy) * w + ix) * c
                for j in 0..<c where x.data[i + j] > best[j] { best[j] = x.data[i + j]; at[j] = i + j }
            } }
            for j in 0..<c { dx.data[at[j]] += dy.data[g + j] }
        } } }
        return dx
    }
}

/// The adjoint of im2col: adds each window column back onto the NHWC image it came from.
enum Col2Im {
    static func add(_ col: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, channels c: Int, height: Int,
                    width: Int, kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Padding,
                    outHeight: Int, outWidth: Int) {
        let k = kernelHeight * kernelWidth * c
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                var src = col + (oy * outWidth + ox) * k
                for ky in 0..<kernelHeight {
                    let iy = oy * stride + ky - padding.top
                    for kx in 0..<kernelWidth {
                        let ix = ox * stride + kx - padding.left
                        if iy >= 0 && iy < height && ix >= 0 && ix < width {
                            let d = dst + (iy * width + ix) * c
                            for j in 0..<c { d[j] += src[j] }
                        }
                        src += c
                    }
                }
            }
        }
    }
}
