@testable import Engine
import XCTest

/// The graph layer of imported networks: grouped/dilated convolution against textbook loops, a DAG
/// with a squeeze-and-excitation gate, a residual add and a channel concat against the same
/// operations applied by hand, value storage recycled without changing any result, and the
/// engine's promise (an image's output is its own in any batch, on any cores) on every ISA.
final class GraphNetworkTests: XCTestCase {
    func testGroupedConvolutionMatchesTextbookLoops() {
        var r = Seeded(3)
        let x = Tensor(shape: [2, 4, 9, 7], data: r.array(2 * 4 * 9 * 7))
        for (groups, cout) in [(1, 6), (2, 6), (4, 8)] {
            let w = r.array(cout * (4 / groups) * 9), b = r.array(cout)
            let pad = Padding(top: 1, bottom: 2, left: 0, right: 1)
            let conv = GroupedConv2D(weights: w, bias: b, inChannels: 4, outChannels: cout, groups: groups, kernel: (3, 3),
                                     stride: (2, 2), dilation: (1, 1), padding: pad)
            let got = conv.forward(x.toNHWC(), .default).toNCHW()
            let want = Naive.conv(x, weights: w, bias: b, cout: cout, k: 3, stride: 2, pad: pad, groups: groups)
            XCTAssertEqual(got.shape, want.shape)
            XCTAssertLessThan(maxAbsDiff(got.data, want.data), 1e-5, "groups \(groups)")
        }
        // Dilation 2 equals a 5x5 kernel with zeros between the taps.
        let w = r.array(3 * 4 * 9), b = r.array(3)
        var spread = [Float](repeating: 0, count: 3 * 4 * 25)
        for o in 0..<3 { for i in 0..<4 { for ky in 0..<3 { for kx in 0..<3 {
            spread[((o * 4 + i) * 5 + 2 * ky) * 5 + 2 * kx] = w[((o * 4 + i) * 3 + ky) * 3 + kx]
        } } } }
        let dilated = GroupedConv2D(weights: w, bias: b, inChannels: 4, outChannels: 3, groups: 1, kernel: (3, 3), stride: (1, 1),
                                    dilation: (2, 2), padding: .symmetric(2))
        let want = Naive.conv(x, weights: spread, bias: b, cout: 3, k: 5, stride: 1, pad: .symmetric(2))
        XCTAssertLessThan(maxAbsDiff(dilated.forward(x.toNHWC(), .default).toNCHW().data, want.data), 1e-5)
    }

    /// input → conv (ReLU) → [depthwise → gate = sigmoid(mean)] → conv × gate + conv → concat(…, conv) → pool.
    func graph(_ r: inout Seeded) throws -> (GraphNetwork, (Tensor, ExecutionPlan) -> Tensor) {
        let conv = Conv2D(weights: r.array(8 * 3 * 9), bias: r.array(8), outChannels: 8, inChannels: 3, kernel: (3, 3),
                          padding: .fixed(.symmetric(1)), activation: .relu)
        let depthwise = DepthwiseConv2D(weights: r.array(8 * 9), bias: r.array(8), channels: 8, kernel: 3,
                                        padding: .fixed(.symmetric(1)))
        let perChannel = Tensor(shape: [8], data: r.array(8))
        typealias N = GraphNetwork.Node
        let nodes = [
            N(name: "nhwc", inputs: [0], output: 1, operation: .layer(ToNHWC())),
            N(name: "conv", inputs: [1], output: 2, operation: .layer(conv)),
            N(name: "dw", inputs: [2], output: 3, operation: .layer(depthwise)),
            N(name: "mean", inputs: [3], output: 4, operation: .layer(GlobalAveragePool())),
            N(name: "gate", inputs: [4], output: 5, operation: .layer(PointwiseLayer(.sigmoid))),
            N(name: "se", inputs: [3, 5], output: 6, operation: .binary(.mul, .identity)),
            N(name: "sum", inputs: [6, 2], output: 7, operation: .binary(.add, .relu)),
            N(name: "shift", inputs: [7, 9], output: 10, operation: .binary(.sub, .identity)),
            N(name: "cat", inputs: [10, 2], output: 8, operation: .concat),
            N(name: "pool", inputs: [8], output: 11, operation: .layer(GlobalAveragePool())),
        ]
        let network = try GraphNetwork(nodes: nodes, slotCount: 12, outputSlot: 11, constants: [9: perChannel])
        let byHand: (Tensor, ExecutionPlan) -> Tensor = { x, plan in
            let a = conv.forward(x.toNHWC(plan), plan)
            let d = depthwise.forward(a, plan)
            let g = PointwiseLayer(.sigmoid).forward(GlobalAveragePool().forward(d, plan), plan)
            var s = d
            let (hw, c) = (d.height * d.width, d.channels)
            for i in 0..<d.count { s.data[i] = d.data[i] * g.data[(i / (hw * c)) * c + i % c] }
            for i in 0..<s.count { s.data[i] = max(s.data[i] + a.data[i], 0) - perChannel.data[i % c] }
            return GlobalAveragePool().forward(ChannelConcat.apply([s, a]), plan)
        }
        return (network, byHand)
    }

    func testGraphEqualsItsOperationsAppliedByHand() throws {
        var r = Seeded(5)
        let (network, byHand) = try graph(&r)
        let x = Tensor(shape: [3, 3, 12, 10], data: r.array(3 * 3 * 12 * 10))
        try forEachISA { plan in
            let y = network.forward(x, plan)
            XCTAssertEqual(y.shape, [3, 16, 1, 1])
            XCTAssertEqual(y.data, byHand(x, plan).data, "\(plan.isa)")
            XCTAssertEqual(network.forward(x, plan).data, y.data, "a second pass, on recycled storage")
        }
    }

    func testEachImagesOutputIsItsOwnInAnyBatchOnAnyCores() throws {
        var r = Seeded(9)
        let (network, _) = try graph(&r)
        let x = Tensor(shape: [5, 3, 12, 10], data: r.array(5 * 3 * 12 * 10))
        let k = x.count / 5
        try forEachISA { plan in
            let all = Parallelism.forward(network, x, plan: plan.with { $0.threads = 2 })
            for i in [0, 4] {
                let one = Tensor(shape: [1, 3, 12, 10], data: Array(x.data[(i * k)..<((i + 1) * k)]))
                XCTAssertEqual(Parallelism.forward(network, one, plan: plan.with { $0.threads = 1 }).data,
                               Array(all.data[(i * 16)..<((i + 1) * 16)]), "image \(i), \(plan.isa)")
            }
        }
    }

    func testInconsistentGraphsAreRefused() {
        let layer = GraphOperation.layer(ToNHWC())
        XCTAssertThrowsError(try GraphNetwork(nodes: [.init(name: "a", inputs: [3], output: 1, operation: layer)], slotCount: 4,
                                              outputSlot: 1, constants: [:]), "reads a slot never written")
        XCTAssertThrowsError(try GraphNetwork(nodes: [.init(name: "a", inputs: [0], output: 1, operation: layer),
                                                      .init(name: "b", inputs: [0], output: 1, operation: layer)],
                                              slotCount: 2, outputSlot: 1, constants: [:]), "writes a slot twice")
        XCTAssertThrowsError(try GraphNetwork(nodes: [.init(name: "a", inputs: [0], output: 1, operation: layer)], slotCount: 3,
                                              outputSlot: 2, constants: [:]), "output never written")
    }
}
