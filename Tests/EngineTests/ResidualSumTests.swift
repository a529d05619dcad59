@testable import Engine
import XCTest

/// A residual connection's sum is made by the body's last layer as it stores (a 1x1
/// convolution's GEMM, a max pool): the result must equal the body, the shortcut and a separate
/// addition, exactly.
final class ResidualSumTests: XCTestCase {
    override func tearDown() {
        Parallelism.gemmThreads = 1
    }

    func separable(_ r: inout Seeded, _ cin: Int, _ cout: Int, _ activation: Activation) -> SeparableConv2D {
        SeparableConv2D(depthwise: r.array(cin * 9), pointwise: r.array(cout * cin), inChannels: cin, outChannels: cout,
                        kernel: 3, padding: .same, batchNorm: nil, activation: activation)
    }

    /// Xception's residual blocks: the entry flow's (… → max pool, plus a strided 1x1 shortcut)
    /// and the middle flow's (relu → separable convolutions, plus the input), on maps small
    /// enough to run layer by layer and large enough to run in bands, on one core and two.
    func testBlocksEqualBodyPlusShortcut() {
        var r = Seeded(21)
        for (h, w, c) in [(9, 9, 40), (5, 7, 33), (47, 45, 72)] {
            let entryBody = Sequential([ActivationLayer(.relu), separable(&r, c, c, .relu), separable(&r, c, c, .identity),
                                        MaxPool2D(kernel: 3, stride: 2, padding: .same)])
            let shortcut = Conv2D(weights: r.array(c * c), bias: r.array(c), outChannels: c, inChannels: c, kernel: (1, 1),
                                  stride: 2, padding: .same)
            let middleBody = Sequential([ActivationLayer(.relu), separable(&r, c, c, .relu), separable(&r, c, c, .identity)])
            XCTAssertTrue(entryBody.addsAsItStores)
            XCTAssertTrue(middleBody.addsAsItStores)
            let x = Tensor(shape: [2, h, w, c], data: r.array(2 * h * w * c), layout: .nhwc)
            for threads in [1, 2] { forEachISA { isa in
                Parallelism.gemmThreads = threads
                let label = "\(h)x\(w)x\(c) threads \(threads) \(isa)"
                let entry = Residual(entryBody, shortcut: shortcut).forward(x)
                let entryWant = Elementwise.add(entryBody.forward(x), shortcut.forward(x))
                XCTAssertEqual(entry.shape, entryWant.shape, label)
                XCTAssertEqual(entry.data, entryWant.data, "entry block " + label)
                let middle = Residual(middleBody).forward(x)
                let middleWant = Elementwise.add(middleBody.forward(x), x)
                XCTAssertEqual(middle.data, middleWant.data, "middle block " + label)
                XCTAssertNotEqual(middle.data, middleBody.forward(x).data, "the input was added")
            } }
        }
    }

    /// MobileNetV2's residual blocks (expand 1x1 → depthwise → project 1x1, plus the input), run in
    /// bands on large maps and layer by layer on small ones, fused and not.
    func testInvertedResidualEqualsBodyPlusInput() {
        var r = Seeded(23)
        defer { Parallelism.fuseBottlenecks = true }
        let (c, hidden) = (16, 96)
        for (h, w) in [(7, 7), (40, 38)] {
            let body = Sequential([
                Conv2D(weights: r.array(hidden * c), bias: r.array(hidden), outChannels: hidden, inChannels: c, kernel: (1, 1),
                       padding: .fixed(.none), activation: .relu6),
                DepthwiseConv2D(weights: r.array(hidden * 9), bias: r.array(hidden), channels: hidden, kernel: 3,
                                padding: .fixed(.symmetric(1)), activation: .relu6),
                Conv2D(weights: r.array(c * hidden), bias: r.array(c), outChannels: c, inChannels: hidden, kernel: (1, 1),
                       padding: .fixed(.none)),
            ])
            let x = Tensor(shape: [2, h, w, c], data: r.array(2 * h * w * c), layout: .nhwc)
            for fuse in [true, false] { forEachISA { isa in
                Parallelism.fuseBottlenecks = fuse
                XCTAssertTrue(body.addsAsItStores)
                XCTAssertEqual(Residual(body).forward(x).data, Elementwise.add(body.forward(x), x).data,
                               "\(h)x\(w) fused \(fuse) \(isa)")
            } }
        }
    }

    /// The GEMM's addition on its own: rows shared between cores (a batch) and columns shared
    /// (one small image), outputs not a multiple of the 32-wide panels, a fused activation.
    func testPointwiseConvolutionAddsAsItStores() throws {
        var r = Seeded(22)
        for threads in [1, 2] {
            Parallelism.gemmThreads = threads
            for (n, h, w, cin, cout) in [(2, 9, 9, 40, 70), (1, 3, 5, 17, 100), (1, 1, 1, 3, 5)] {
                let conv = Conv2D(weights: r.array(cout * cin), bias: r.array(cout), outChannels: cout, inChannels: cin,
                                  kernel: (1, 1), padding: .fixed(.none), activation: .relu)
                let x = Tensor(shape: [n, h, w, cin], data: r.array(n * h * w * cin), layout: .nhwc)
                let addend = Tensor(shape: [n, h, w, cout], data: r.array(n * h * w * cout), layout: .nhwc)
                forEachISA { isa in
                    let got = conv.forward(x, adding: addend)
                    let want = Elementwise.add(conv.forward(x), addend)
                    XCTAssertEqual(got.data, want.data, "\(n)x\(h)x\(w) \(cin)→\(cout) threads \(threads) \(isa)")
                    XCTAssertTrue(got.data.contains { $0 < 0 }, "the addend came after the ReLU")
                }
            }
        }
    }
}
