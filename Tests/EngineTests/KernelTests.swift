@testable import Engine
import XCTest

/// Every kernel against the naive loops, for odd sizes, strides 1 and 2, and both padding conventions.
final class KernelTests: XCTestCase {
    let sizes = [(7, 7), (8, 8), (9, 6), (15, 16), (1, 5)]

    func testConvolutionMatchesNaiveLoops() {
        var r = Seeded(1)
        // One core, then each image's rows (direct kernel) or the GEMM shared between two.
        for threads in [1, 2] {
        for (h, w) in sizes {
            for (k, stride) in [(1, 1), (1, 2), (3, 1), (3, 2), (5, 2)] {
                for rule in [PaddingRule.same, .fixed(.symmetric(k / 2)), .fixed(.none)] {
                    let pad = rule.resolve(height: h, width: w, kernel: k, stride: stride)
                    guard h + pad.top + pad.bottom >= k, w + pad.left + pad.right >= k else { continue }
                    // 3 input channels: the direct kernel (stems); 6: im2col + GEMM. 37 outputs: every channel block.
                    for (cin, cout) in [(3, 37), (6, 5)] {
                        let x = Tensor(shape: [2, cin, h, w], data: r.array(2 * cin * h * w))
                        let wt = r.array(cout * cin * k * k), b = r.array(cout)
                        let conv = Conv2D(weights: wt, bias: b, outChannels: cout, inChannels: cin, kernel: (k, k),
                                          stride: stride, padding: rule)
                        let want = Naive.conv(x, weights: wt, bias: b, cout: cout, k: k, stride: stride, pad: pad)
                        forEachISA(gemmThreads: threads) { plan in
                            let got = conv.forward(x, plan).toNCHW()
                            let label = "\(h)x\(w) k\(k) s\(stride) \(rule) cin \(cin) threads \(threads) \(plan.isa)"
                            XCTAssertEqual(got.shape, want.shape, label)
                            XCTAssertLessThan(maxAbsDiff(got.data, want.data), 1e-5, label)
                        }
                    }
                }
            }
        }
        }
    }

    /// Convolutions served by the packed GEMM keep only its panels; `weights` unpacks them
    /// (training reads them) in the documented [(ky, kx, ci), co] order.
    func testWeightsReadBackFromPanels() {
        var r = Seeded(6)
        for (k, cin, cout) in [(1, 40, 70), (3, 6, 33), (3, 3, 5)] {
            let oihw = r.array(cout * cin * k * k)
            let conv = Conv2D(weights: oihw, outChannels: cout, inChannels: cin, kernel: (k, k), padding: .same)
            var want = [Float](repeating: 0, count: oihw.count)
            for o in 0..<cout { for i in 0..<cin { for y in 0..<k { for x in 0..<k {
                want[((y * k + x) * cin + i) * cout + o] = oihw[((o * cin + i) * k + y) * k + x]
            } } } }
            XCTAssertEqual(conv.weights, want, "k\(k) \(cin)→\(cout)")
        }
    }

    /// im2col runs a band of output rows at a time: a map whose windows span several bands,
    /// the last one short.
    func testUnfoldedConvolutionInBandsMatchesNaiveLoops() {
        var r = Seeded(4)
        let (h, w, cin, cout, k) = (41, 37, 12, 9, 3)  // under 16 inputs: im2col, not Winograd
        XCTAssertGreaterThan(h * w * k * k * cin * 4, 2 * Conv2D.columnBytes, "windows fit one band")
        for (stride, rule) in [(1, PaddingRule.fixed(.none)), (2, .same), (1, .fixed(.symmetric(1)))] {
            let x = Tensor(shape: [2, cin, h, w], data: r.array(2 * cin * h * w))
            let wt = r.array(cout * cin * k * k), b = r.array(cout)
            let conv = Conv2D(weights: wt, bias: b, outChannels: cout, inChannels: cin, kernel: (k, k), stride: stride,
                              padding: rule)
            let want = Naive.conv(x, weights: wt, bias: b, cout: cout, k: k, stride: stride,
                                  pad: rule.resolve(height: h, width: w, kernel: k, stride: stride))
            forEachISA { plan in
                let got = conv.forward(x, plan).toNCHW()
                XCTAssertEqual(got.shape, want.shape)
                XCTAssertLessThan(maxAbsDiff(got.data, want.data), 1e-4, "s\(stride) \(rule) \(plan.isa)")
            }
        }
    }

    /// 3x3 stride-1 convolutions with enough input channels run by Winograd F(4x4, 3x3): outputs
    /// not a multiple of the 4x4 tile, channels not a multiple of the 16-channel transforms or the
    /// GEMM's panels, every padding rule, several bands of tiles, one image's bands shared by two cores.
    func testWinogradMatchesNaiveLoops() {
        var r = Seeded(7)
        for threads in [1, 2] {
            for (h, w, cin, cout) in [(7, 7, 16, 37), (8, 8, 35, 5), (9, 6, 16, 64), (3, 5, 20, 16), (41, 30, 33, 70)] {
                for rule in [PaddingRule.same, .fixed(.symmetric(1)), .fixed(.none)] {
                    let pad = rule.resolve(height: h, width: w, kernel: 3, stride: 1)
                    guard h + pad.top + pad.bottom >= 3, w + pad.left + pad.right >= 3 else { continue }
                    let x = Tensor(shape: [2, cin, h, w], data: r.array(2 * cin * h * w))
                    let wt = r.array(cout * cin * 9), b = r.array(cout)
                    let conv = Conv2D(weights: wt, bias: b, outChannels: cout, inChannels: cin, kernel: (3, 3),
                                      padding: rule, activation: .relu)
                    XCTAssertNotNil(conv.winograd)
                    var want = Naive.conv(x, weights: wt, bias: b, cout: cout, k: 3, stride: 1, pad: pad)
                    want.data = want.data.map { max($0, 0) }
                    let scale = want.data.map(abs).max()!
                    forEachISA(gemmThreads: threads) { plan in
                        let plan = plan.with { $0.winograd = true }
                        XCTAssertEqual(conv.operationName(plan), "conv 3x3 (Winograd F(4x4,3x3))")
                        let got = conv.forward(x, plan).toNCHW()
                        XCTAssertEqual(got.shape, want.shape)
                        XCTAssertLessThan(maxAbsDiff(got.data, want.data), 1e-5 * scale,
                                          "\(h)x\(w) \(cin)→\(cout) \(rule) threads \(threads) \(plan.isa)")
                    }
                }
            }
        }
    }

    /// The packed GEMM's edges: rows not a multiple of its 12-row tile, outputs not a multiple of
    /// its 32-wide panels, long and short K, fused activations, and rows shared between cores.
    func testPointwiseGEMMEdgesMatchNaiveLoops() {
        var r = Seeded(3)
        for threads in [1, 2] {
            // (5, 5, 1024, 100): rows of A 4 KB long, the block copied with its rows spaced.
            for (h, w, cin, cout) in [(1, 1, 1, 1), (5, 7, 3, 37), (9, 9, 300, 64), (13, 11, 17, 70), (7, 7, 40, 16), (10, 10, 64, 33),
                                      (5, 5, 1024, 100)] {
                for activation in [Activation.identity, .relu6] {
                    let x = Tensor(shape: [2, cin, h, w], data: r.array(2 * cin * h * w))
                    let wt = r.array(cout * cin), b = r.array(cout)
                    let conv = Conv2D(weights: wt, bias: b, outChannels: cout, inChannels: cin, kernel: (1, 1),
                                      padding: .fixed(.none), activation: activation)
                    var want = Naive.conv(x, weights: wt, bias: b, cout: cout, k: 1, stride: 1, pad: .none)
                    want.data = want.data.map { activation.apply($0) }
                    forEachISA(gemmThreads: threads) { plan in
                        let got = conv.forward(x, plan).toNCHW()
                        XCTAssertLessThan(maxAbsDiff(got.data, want.data), 1e-4,
                                          "\(h)x\(w) \(cin)→\(cout) \(activation) threads \(threads) \(plan.isa)")
                    }
                }
            }
        }
    }

    func testDepthwiseMatchesNaiveLoops() {
        var r = Seeded(2)
        // One core, then each image's output rows shared between two.
        for threads in [1, 2] {
        for (h, w) in sizes {
            for k in [3, 5] {
                for stride in [1, 2] {
                    // 52 channels: the portable kernel's 32- and 16-channel four-pixel blocks and the
                    // per-pixel rest; 4, 17, 52, 64: the row kernels' channel blocks (32 or 16 with
                    // AVX-512, 8 with AVX2), full and masked.
                    for rule in [PaddingRule.same, .fixed(.symmetric(k / 2)), .fixed(.none)] { for c in [4, 17, 52, 64] {
                        guard h >= k && w >= k || rule != .fixed(.none) else { continue }
                        let pad = rule.resolve(height: h, width: w, kernel: k, stride: stride)
                        let x = Tensor(shape: [2, c, h, w], data: r.array(2 * c * h * w))
                        let wt = r.array(c * k * k), b = r.array(c)
                        let layer = DepthwiseConv2D(weights: wt, bias: b, channels: c, kernel: k, stride: stride,
                                                    padding: rule, activation: .relu6)
                        var want = Naive.conv(x, weights: wt, bias: b, cout: c, k: k, stride: stride, pad: pad, groups: c)
                        want.data = want.data.map { min(max($0, 0), 6) }
                        forEachISA(gemmThreads: threads) { plan in
                            let got = layer.forward(x, plan).toNCHW()
                            XCTAssertEqual(got.shape, want.shape)
                            XCTAssertLessThan(maxAbsDiff(got.data, want.data), 1e-5,
                                              "\(h)x\(w) k\(k) s\(stride) \(rule) c\(c) threads \(threads) \(plan.isa)")
                        }
                    } }
                }
            }
        }
        }
    }

    func testAveragePoolExcludesPadding() {
        var r = Seeded(5)
        let x = Tensor(shape: [1, 2, 5, 4], data: r.array(40))
        forEachISA { plan in
            let got = AvgPool2D(kernel: 3, stride: 2, padding: .same).forward(x, plan).toNCHW()
            let pad = Padding.same(height: 5, width: 4, kernel: 3, stride: 2)
            XCTAssertEqual(got.shape, [1, 2, 3, 2])
            for c in 0..<2 { for oy in 0..<3 { for ox in 0..<2 {
                var s: Float = 0, n = 0
                for ky in 0..<3 { for kx in 0..<3 {
                    let iy = oy * 2 + ky - pad.top, ix = ox * 2 + kx - pad.left
                    if iy >= 0 && iy < 5 && ix >= 0 && ix < 4 { s += x.data[(c * 5 + iy) * 4 + ix]; n += 1 }
                } }
                XCTAssertEqual(got.data[(c * 3 + oy) * 2 + ox], s / Float(n), accuracy: 1e-6, "\(plan.isa)")
            } } }
        }
    }

    func testLayoutConversionsRoundTrip() {
        var r = Seeded(6)
        let x = Tensor(shape: [2, 3, 4, 5], data: r.array(120))
        forEachISA { plan in
            let nhwc = x.toNHWC(plan)
            XCTAssertEqual(nhwc.shape, [2, 4, 5, 3])
            let inNHWC: Int = ((1 * 4 + 2) * 5 + 3) * 3 + 1  // n 1, y 2, x 3, c 1
            let inNCHW: Int = ((1 * 3 + 1) * 4 + 2) * 5 + 3
            XCTAssertEqual(nhwc.data[inNHWC], x.data[inNCHW], "\(plan.isa)")
            XCTAssertEqual(nhwc.toNCHW().data, x.data, "\(plan.isa)")
            let five = Tensor(shape: [2, 5, 3, 7], data: r.array(210))  // not RGB: the general loop
            XCTAssertEqual(five.toNHWC(plan).toNCHW().data, five.data, "\(plan.isa)")
            let at: Int = ((1 * 3 + 2) * 7 + 6) * 5 + 4, from: Int = ((1 * 5 + 4) * 3 + 2) * 7 + 6  // n 1, y 2, x 6, c 4
            XCTAssertEqual(five.toNHWC(plan).data[at], five.data[from], "\(plan.isa)")
        }
    }

    func testSamePaddingIsAsymmetricOnStrideTwo() {
        // TensorFlow: 8 wide, k3 s2 → out 4, total pad 1 → 0 before, 1 after.
        XCTAssertEqual(Padding.same(height: 8, width: 8, kernel: 3, stride: 2), Padding(top: 0, bottom: 1, left: 0, right: 1))
        XCTAssertEqual(Padding.same(height: 8, width: 8, kernel: 5, stride: 2), Padding(top: 1, bottom: 2, left: 1, right: 2))
        XCTAssertEqual(Padding.same(height: 7, width: 7, kernel: 3, stride: 2), Padding(top: 1, bottom: 1, left: 1, right: 1))
        XCTAssertEqual(Padding.same(height: 9, width: 9, kernel: 3, stride: 1), .symmetric(1))
    }

    func testBatchNormFoldEqualsConvThenNorm() {
        var r = Seeded(3)
        let x = Tensor(shape: [1, 3, 6, 6], data: r.array(108))
        let wt = r.array(4 * 3 * 9)
        let bn = BatchNorm(gamma: r.array(4), beta: r.array(4), mean: r.array(4),
                           variance: r.array(4).map { abs($0) + 0.1 }, epsilon: 1e-3)
        let folded = Conv2D(weights: wt, outChannels: 4, inChannels: 3, kernel: (3, 3), padding: .same, batchNorm: bn)
        let plain = Conv2D(weights: wt, outChannels: 4, inChannels: 3, kernel: (3, 3), padding: .same)
        forEachISA { plan in
            var want = plain.forward(x, plan).toNCHW().data
            for c in 0..<4 {
                for i in 0..<36 {
                    want[c * 36 + i] = (want[c * 36 + i] - bn.mean[c]) / (bn.variance[c] + 1e-3).squareRoot() * bn.gamma[c] + bn.beta[c]
                }
            }
            XCTAssertLessThan(maxAbsDiff(folded.forward(x, plan).toNCHW().data, want), 1e-5, "\(plan.isa)")
        }
    }

    func testPoolingAndDense() {
        var r = Seeded(4)
        // 83 channels: the max kernel's 64- and 16-channel blocks and the rest.
        for (h, w) in sizes where h >= 3 && w >= 3 { for c in [3, 83] {
            let x = Tensor(shape: [2, c, h, w], data: r.array(2 * c * h * w))
            let pad = Padding.same(height: h, width: w, kernel: 3, stride: 2)
            let want = Naive.maxPool(x, k: 3, stride: 2, pad: pad).data
            forEachISA { plan in
                let got = MaxPool2D(kernel: 3, stride: 2, padding: .same).forward(x, plan).toNCHW()
                XCTAssertEqual(got.data, want, "\(h)x\(w) c\(c) \(plan.isa)")
            }
        } }
        let x = Tensor(shape: [2, 3, 4, 5], data: r.array(120))
        let gap = GlobalAveragePool().forward(x, .default)
        XCTAssertEqual(GlobalAveragePool().forward(x.toNHWC(), .default).data, gap.data, "GAP is layout-independent")
        for p in 0..<6 { XCTAssertEqual(gap.data[p], x.data[(p * 20)..<(p * 20 + 20)].reduce(0, +) / 20, accuracy: 1e-6) }
        let wt = r.array(7 * 3), b = r.array(7)
        let small = Dense(weights: wt, bias: b, inFeatures: 3, outFeatures: 7, activation: .relu)
        forEachISA { plan in
            let y = small.forward(gap, plan)
            for n in 0..<2 { for o in 0..<7 {
                var s = b[o]
                for i in 0..<3 { s += wt[o * 3 + i] * gap.data[n * 3 + i] }
                XCTAssertEqual(y.data[n * 7 + o], max(s, 0), accuracy: 1e-6, "\(plan.isa)")
            } }
        }
        // Wider layers (ImageNet heads): outputs across several GEMM panels, one item's shared by two cores.
        for threads in [1, 2] {
            for (n, inputs, outputs) in [(1, 300, 70), (5, 64, 33)] {
                let x = Tensor(shape: [n, inputs], data: r.array(n * inputs))
                let wt = r.array(outputs * inputs), b = r.array(outputs)
                let dense = Dense(weights: wt, bias: b, inFeatures: inputs, outFeatures: outputs)
                var want = [Float]()
                for item in 0..<n { for o in 0..<outputs {
                    var s = Double(b[o])
                    for i in 0..<inputs { s += Double(wt[o * inputs + i]) * Double(x.data[item * inputs + i]) }
                    want.append(Float(s))
                } }
                forEachISA(gemmThreads: threads) { plan in
                    XCTAssertLessThan(maxAbsDiff(dense.forward(x, plan).data, want), 1e-4,
                                      "dense \(inputs)→\(outputs) n \(n) threads \(threads) \(plan.isa)")
                }
            }
        }
        let p = Probabilities.softmax([1, 2, 3])
        XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(p[2], Float(exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0))), accuracy: 1e-6)
    }
}
