@testable import Engine
import XCTest

/// `DenseBlock` (one output map, each unit writing its slice) against the naive definition:
/// x ← concat(x, conv3x3(relu(bn2(conv1x1(relu(bn1(x))))))) per unit, with a fresh concatenation
/// each time, run layer by layer — on every instruction set, for a batch and each image alone.
final class DenseBlockTests: XCTestCase {
    func randoms(_ count: Int, _ seed: inout UInt64, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return (Float(seed >> 40) / Float(1 << 24) - 0.5) * 2 * scale
        }
    }

    func makeBlock(inChannels: Int, units count: Int, growth: Int, bottleneck: Int) -> DenseBlock {
        var seed: UInt64 = 18
        let units = (0..<count).map { i -> DenseUnit in
            let c = inChannels + i * growth
            let norm = ChannelAffine(scale: randoms(c, &seed).map { 0.5 + abs($0) }, shift: randoms(c, &seed, scale: 0.2),
                                     activation: .relu)
            let bn = BatchNorm(gamma: randoms(bottleneck, &seed).map { 0.5 + abs($0) }, beta: randoms(bottleneck, &seed, scale: 0.1),
                               mean: randoms(bottleneck, &seed, scale: 0.1), variance: randoms(bottleneck, &seed).map { 0.5 + abs($0) },
                               epsilon: 1e-5)
            let conv1 = Conv2D(weights: randoms(bottleneck * c, &seed, scale: 0.3), outChannels: bottleneck, inChannels: c,
                               kernel: (1, 1), padding: .fixed(.none), batchNorm: bn, activation: .relu)
            let conv2 = Conv2D(weights: randoms(growth * bottleneck * 9, &seed, scale: 0.1), outChannels: growth,
                               inChannels: bottleneck, kernel: (3, 3), padding: .fixed(.symmetric(1)))
            return DenseUnit(norm: norm, bottleneck: conv1, conv: conv2)
        }
        return DenseBlock(inChannels: inChannels, units: units)
    }

    /// The textbook form: a new concatenated map after every unit.
    func naive(_ block: DenseBlock, _ x: Tensor, _ plan: ExecutionPlan) -> Tensor {
        var map = x
        for unit in block.units {
            let made = unit.conv.forward(unit.bottleneck.forward(unit.norm.forward(map, plan), plan), plan)
            let (pixels, a, b) = (map.batch * map.height * map.width, map.channels, made.channels)
            var joined = [Float](repeating: 0, count: pixels * (a + b))
            for p in 0..<pixels {
                for c in 0..<a { joined[p * (a + b) + c] = map.data[p * a + c] }
                for c in 0..<b { joined[p * (a + b) + a + c] = made.data[p * b + c] }
            }
            map = Tensor(shape: [map.batch, map.height, map.width, a + b], data: joined, layout: .nhwc)
        }
        return map
    }

    func testDenseBlockEqualsNaiveConcatenation() {
        // 16 bottleneck channels: the 3x3 runs by Winograd, as in DenseNet (im2col below that).
        for bottleneck in [16, 8] {
            let block = makeBlock(inChannels: 24, units: 4, growth: 8, bottleneck: bottleneck)
            XCTAssertEqual(block.outChannels, 24 + 4 * 8)
            var seed: UInt64 = 5
            let x = Tensor(shape: [3, 9, 7, 24], data: randoms(3 * 9 * 7 * 24, &seed), layout: .nhwc)
            for isa in ISA.supported {
                let plan = ExecutionPlan.default.with { $0.isa = isa }
                let want = naive(block, x, plan)
                let got = block.forward(x, plan)
                XCTAssertEqual(got.shape, [3, 9, 7, 56])
                XCTAssertEqual(got.data, want.data, "dense block against the naive concatenation, \(isa), bottleneck \(bottleneck)")
                let per = x.count / 3, outPer = got.count / 3
                for i in 0..<3 {
                    let one = Tensor(shape: [1, 9, 7, 24], data: Array(x.data[(i * per)..<((i + 1) * per)]), layout: .nhwc)
                    XCTAssertEqual(block.forward(one, plan.with { $0.gemmThreads = 2 }).data,
                                   Array(got.data[(i * outPer)..<((i + 1) * outPer)]), "image \(i) alone, \(isa)")
                }
            }
            // The generic walk rebuilds it around its own tensors unchanged.
            var own = block.parameters[...]
            let copy = block.replacing(children: [], taking: &own)
            XCTAssertTrue(own.isEmpty)
            XCTAssertEqual(copy.forward(x, .default).data, block.forward(x, .default).data)
            XCTAssertTrue(Fusion.plan(Sequential([block])).forward(x, .default).data == block.forward(x, .default).data)
        }
    }
}
