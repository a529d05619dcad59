@testable import Engine
import Foundation
import XCTest

/// Inverted residual bodies, separable convolutions and pairs of them run a band of rows at a
/// time (`BandedDepthwiseBlock`, made by `Fusion.plan`); their outputs must equal the layers run
/// one after the other, exactly.
final class FusedBlockTests: XCTestCase {
    /// Maps above two bands' size (so the fused path runs), odd sizes, 3x3 and 5x5, strides 1 and
    /// 2, both padding conventions, with and without the expanding 1x1, on one core and two.
    func testBandsEqualLayerByLayer() throws {
        var r = Seeded(11)
        let (cin, hidden, cout) = (12, 72, 20)
        for (h, w) in [(47, 45), (60, 33)] {
            XCTAssertGreaterThan(h * w * hidden * 4, 2 * BandedDepthwiseBlock.bandBytes, "map too small to be fused")
            for (k, stride) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
                for rule in [PaddingRule.same, .fixed(.symmetric(k / 2))] {
                    let expand = Conv2D(weights: r.array(hidden * cin), bias: r.array(hidden), outChannels: hidden, inChannels: cin,
                                        kernel: (1, 1), padding: .fixed(.none), activation: .relu6)
                    let dw = DepthwiseConv2D(weights: r.array(hidden * k * k), bias: r.array(hidden), channels: hidden, kernel: k,
                                             stride: stride, padding: rule, activation: .relu6)
                    let project = Conv2D(weights: r.array(cout * hidden), bias: r.array(cout), outChannels: cout, inChannels: hidden,
                                         kernel: (1, 1), padding: .fixed(.none))
                    let block = Sequential([expand, dw, project])
                    let fusedBlock = try XCTUnwrap(Fusion.plan(block) as? BandedDepthwiseBlock)
                    XCTAssertEqual(fusedBlock.kind, .invertedResidual)
                    let separable = SeparableConv2D(depthwise: dw, pointwise: project)
                    let fusedSeparable = try XCTUnwrap(Fusion.plan(separable) as? BandedDepthwiseBlock)
                    XCTAssertEqual(fusedSeparable.kind, .separable)
                    let x = Tensor(shape: [2, h, w, cin], data: r.array(2 * h * w * cin), layout: .nhwc)
                    let y = expand.forward(x, .default)  // the separable convolution's input
                    for threads in [1, 2] { forEachISA(gemmThreads: threads) { plan in
                        let on = plan.with { $0.fuse = true }, off = plan.with { $0.fuse = false }
                        XCTAssertTrue(fusedBlock.runsInBands(x, on) && fusedSeparable.runsInBands(y, on))
                        // As built (layer by layer), fused with fusion off, fused: the same bits.
                        let (wantBlock, wantSeparable) = (block.forward(x, on), separable.forward(y, on))
                        let label = "\(h)x\(w) k\(k) s\(stride) \(rule) threads \(threads) \(plan.isa)"
                        for plan in [off, on] {
                            let (gotBlock, gotSeparable) = (fusedBlock.forward(x, plan), fusedSeparable.forward(y, plan))
                            XCTAssertEqual(gotBlock.shape, wantBlock.shape, label)
                            XCTAssertEqual(gotBlock.data, wantBlock.data, label)
                            XCTAssertEqual(gotSeparable.shape, wantSeparable.shape, label)
                            XCTAssertEqual(gotSeparable.data, wantSeparable.data, label)
                        }
                    } }
                }
            }
        }
    }

    /// Two separable convolutions in a row run as one band-wise pass on large maps (the first
    /// one's output made a band of rows at a time): the same values as one after the other, exactly.
    func testSeparablePairEqualsOneAfterTheOther() throws {
        var r = Seeded(14)
        for (h, w, cin, mid, cout, rule) in [(47, 45, 12, 72, 20, PaddingRule.same), (60, 33, 40, 72, 64, .fixed(.symmetric(1))),
                                             (9, 9, 24, 24, 24, .same)] {
            let first = SeparableConv2D(depthwise: r.array(cin * 9), pointwise: r.array(mid * cin), inChannels: cin,
                                        outChannels: mid, kernel: 3, padding: rule, batchNorm: nil, activation: .relu)
            let second = SeparableConv2D(depthwise: r.array(mid * 9), pointwise: r.array(cout * mid), inChannels: mid,
                                         outChannels: cout, kernel: 3, padding: rule, batchNorm: nil)
            let pair = try XCTUnwrap(Fusion.plan(Sequential([first, second])) as? Sequential)
            XCTAssertEqual(pair.layers.count, 1)
            let fused = try XCTUnwrap(pair.layers[0] as? BandedDepthwiseBlock)
            XCTAssertEqual(fused.kind, .separablePair)
            let x = Tensor(shape: [2, h, w, cin], data: r.array(2 * h * w * cin), layout: .nhwc)
            let addend = Tensor(shape: [2, h, w, cout], data: r.array(2 * h * w * cout), layout: .nhwc)
            XCTAssertEqual(fused.runsInBands(x, ExecutionPlan.default.with { $0.fuse = true }), h > 9, "\(h)x\(w)")
            for threads in [1, 2] { forEachISA(gemmThreads: threads) { plan in
                let want = second.forward(first.forward(x, plan), plan)
                let wantSum = Elementwise.add(want, addend, plan)
                let label = "\(h)x\(w) \(cin)→\(mid)→\(cout) threads \(threads) \(plan.isa)"
                for fuse in [false, true] {
                    let plan = plan.with { $0.fuse = fuse }
                    XCTAssertEqual(fused.forward(x, plan).data, want.data, label + " fuse \(fuse)")
                    XCTAssertEqual(fused.forward(x, adding: addend, plan).data, wantSum.data, label + " fuse \(fuse) + addend")
                }
            } }
        }
    }
}

/// An activation that follows a convolution is applied as the convolution stores its output.
final class ActivationFoldingTests: XCTestCase {
    func testFoldedActivationsGiveTheSameValues() throws {
        var r = Seeded(13)
        let (c, h, w) = (24, 11, 9)
        func separable(_ a: Activation) -> SeparableConv2D {
            SeparableConv2D(depthwise: r.array(c * 9), pointwise: r.array(c * c), inChannels: c, outChannels: c, kernel: 3,
                            padding: .same, batchNorm: nil, activation: a)
        }
        let pointwise = Conv2D(weights: r.array(c * c), bias: r.array(c), outChannels: c, inChannels: c, kernel: (1, 1),
                               padding: .fixed(.none))
        // Xception's middle flow pattern, a 1x1 conv followed by ReLU6, and a convolution that
        // already has an activation (its following ReLU stays a layer of its own).
        let layers: [Layer] = [ActivationLayer(.relu), separable(.identity), ActivationLayer(.relu), separable(.identity),
                               pointwise, ActivationLayer(.relu6), separable(.relu), ActivationLayer(.relu)]
        let network = try XCTUnwrap(Fusion.plan(Sequential(layers)) as? Sequential)
        // Two ReLUs folded into the convolutions before them; the two separable convolutions in a
        // row paired, the last one fused on its own.
        XCTAssertEqual(network.layers.count, layers.count - 3)
        XCTAssertEqual((network.layers[1] as? BandedDepthwiseBlock)?.kind, .separablePair)
        XCTAssertEqual((network.layers[3] as? BandedDepthwiseBlock)?.kind, .separable)
        XCTAssertTrue(Fusion.plan(network) is Sequential, "planning a planned network")
        XCTAssertEqual((Fusion.plan(network) as? Sequential)?.layers.count, network.layers.count)
        let x = Tensor(shape: [2, h, w, c], data: r.array(2 * h * w * c).map { $0 * 8 }, layout: .nhwc)
        forEachISA { plan in
            let want = layers.reduce(x) { $1.forward($0, plan) }
            XCTAssertEqual(network.forward(x, plan).data, want.data, "\(plan.isa)")
        }
    }
}

/// Activation arrays come back to the thread's pool and are reused, without ever changing a
/// tensor the caller still holds. Each check runs on a thread of its own, so that its pool starts
/// empty whatever earlier tests left in theirs.
final class ActivationBufferTests: XCTestCase {
    /// `body` on a new thread (a new, empty pool), waited for.
    func onFreshThread(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { body(); done.signal() }
        thread.stackSize = 8 << 20
        thread.start()
        done.wait()
    }

    func testSecondPassAllocatesNothingAndHeldOutputsStay() {
        forEachISA { plan in onFreshThread { Self.secondPassAllocatesNothing(plan) } }
    }

    static func secondPassAllocatesNothing(_ plan: ExecutionPlan) {
        let isa = plan.isa
        var r = Seeded(12)
        let (cin, hidden) = (8, 48)
        func conv(_ i: Int, _ o: Int, _ a: Activation) -> Conv2D {
            Conv2D(weights: r.array(o * i), bias: r.array(o), outChannels: o, inChannels: i, kernel: (1, 1), padding: .fixed(.none),
                   activation: a)
        }
        let dw = DepthwiseConv2D(weights: r.array(hidden * 9), bias: r.array(hidden), channels: hidden, kernel: 3, padding: .same,
                                 activation: .relu6)
        let network = Fusion.plan(Sequential([ToNHWC(), conv(3, cin, .relu),
                                              Residual(Sequential([conv(cin, hidden, .relu6), dw, conv(hidden, cin, .identity)])),
                                              ActivationLayer(.relu), MaxPool2D(kernel: 2, stride: 2, padding: .fixed(.none)),
                                              conv(cin, 5, .identity)]))
        let a = Tensor(shape: [2, 3, 20, 18], data: r.array(2 * 3 * 20 * 18))
        let b = Tensor(shape: [2, 3, 20, 18], data: r.array(2 * 3 * 20 * 18))
        XCTAssertEqual(ActivationBuffers.current.misses, 0, "\(isa): the thread's pool is new")
        let first = Parallelism.microBatches(network, a, 0..<2, plan)
        let kept = first.data
        let misses = ActivationBuffers.current.misses
        var second = Parallelism.microBatches(network, b, 0..<2, plan)
        XCTAssertEqual(ActivationBuffers.current.misses, misses + 1, "\(isa): new arrays besides the output (the first is still held)")
        XCTAssertEqual(first.data, kept, "\(isa): a held output changed")
        XCTAssertNotEqual(first.data, second.data)
        ActivationBuffers.recycle(&second)
        let again = ActivationBuffers.current.misses
        XCTAssertEqual(Parallelism.microBatches(network, a, 0..<2, plan).data, kept, "\(isa): the same input gives the same output")
        XCTAssertEqual(ActivationBuffers.current.misses, again, "\(isa): a pass allocated activation arrays")
    }
}
