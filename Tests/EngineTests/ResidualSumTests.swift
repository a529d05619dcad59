@testable import Engine
import XCTest

/// A residual connection's sum is made by the body's last layer as it stores (a 1x1
/// convolution's GEMM, a max pool): the result must equal the body, the shortcut and a separate
/// addition, exactly.
final class ResidualSumTests: XCTestCase {
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
            // As built, and as they run (separable convolutions fused, in pairs).
            let entryBlock = Residual(entryBody, shortcut: shortcut), middleBlock = Residual(middleBody)
            let entryBlocks = [entryBlock, Fusion.plan(entryBlock)], middleBlocks = [middleBlock, Fusion.plan(middleBlock)]
            XCTAssertTrue((((entryBlocks[1] as? Residual)?.body as? Sequential)?.addsAsItStores) == true)
            XCTAssertTrue((((middleBlocks[1] as? Residual)?.body as? Sequential)?.addsAsItStores) == true)
            let x = Tensor(shape: [2, h, w, c], data: r.array(2 * h * w * c), layout: .nhwc)
            for threads in [1, 2] { forEachISA(gemmThreads: threads) { plan in
                let label = "\(h)x\(w)x\(c) threads \(threads) \(plan.isa)"
                let entryWant = Elementwise.add(entryBody.forward(x, plan), shortcut.forward(x, plan), plan)
                let middleWant = Elementwise.add(middleBody.forward(x, plan), x, plan)
                for (entryBlock, middleBlock) in zip(entryBlocks, middleBlocks) {
                    let entry = entryBlock.forward(x, plan)
                    XCTAssertEqual(entry.shape, entryWant.shape, label)
                    XCTAssertEqual(entry.data, entryWant.data, "entry block " + label)
                    let middle = middleBlock.forward(x, plan)
                    XCTAssertEqual(middle.data, middleWant.data, "middle block " + label)
                    XCTAssertNotEqual(middle.data, middleBody.forward(x, plan).data, "the input was added")
                }
            } }
        }
    }

    /// MobileNetV2's residual blocks (expand 1x1 → depthwise → project 1x1, plus the input), run in
    /// bands on large maps and layer by layer on small ones, fused and not.
    func testInvertedResidualEqualsBodyPlusInput() throws {
        var r = Seeded(23)
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
            let block = Fusion.plan(Residual(body))
            let fusedBody = try XCTUnwrap((block as? Residual)?.body as? BandedDepthwiseBlock)
            XCTAssertTrue(fusedBody.addsAsItStores)
            for fuse in [true, false] { forEachISA { plan in
                let plan = plan.with { $0.fuse = fuse }
                XCTAssertEqual(fusedBody.runsInBands(x, plan), fuse && h > 7, "\(h)x\(w) fused \(fuse)")
                XCTAssertEqual(block.forward(x, plan).data, Elementwise.add(body.forward(x, plan), x, plan).data,
                               "\(h)x\(w) fused \(fuse) \(plan.isa)")
            } }
        }
    }

    /// The GEMM's addition on its own: rows shared between cores (a batch) and columns shared
    /// (one small image), outputs not a multiple of the 32-wide panels, a fused activation.
    func testPointwiseConvolutionAddsAsItStores() throws {
        var r = Seeded(22)
        for threads in [1, 2] {
            for (n, h, w, cin, cout) in [(2, 9, 9, 40, 70), (1, 3, 5, 17, 100), (1, 1, 1, 3, 5)] {
                let conv = Conv2D(weights: r.array(cout * cin), bias: r.array(cout), outChannels: cout, inChannels: cin,
                                  kernel: (1, 1), padding: .fixed(.none), activation: .relu)
                let x = Tensor(shape: [n, h, w, cin], data: r.array(n * h * w * cin), layout: .nhwc)
                let addend = Tensor(shape: [n, h, w, cout], data: r.array(n * h * w * cout), layout: .nhwc)
                forEachISA(gemmThreads: threads) { plan in
                    let got = conv.forward(x, adding: addend, plan)
                    let want = Elementwise.add(conv.forward(x, plan), addend, plan)
                    XCTAssertEqual(got.data, want.data, "\(n)x\(h)x\(w) \(cin)→\(cout) threads \(threads) \(plan.isa)")
                    XCTAssertTrue(got.data.contains { $0 < 0 }, "the addend came after the ReLU")
                }
            }
        }
    }
}
