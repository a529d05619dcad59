@testable import Engine
import XCTest

/// A residual block whose activation follows the sum (ResNet's bottleneck: relu(body(x) + shortcut(x)))
/// makes the sum and the ReLU as its last 1x1 convolution's GEMM stores its tiles: bit for bit the
/// separate addition and activation, on every instruction set, for output widths that fill whole
/// panels, half panels and odd lanes.
final class ResidualActivationTests: XCTestCase {
    func randoms(_ count: Int, _ seed: inout UInt64, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return (Float(seed >> 40) / Float(1 << 24) - 0.5) * 2 * scale
        }
    }

    func testSumThenReLUInTheGEMMEqualsSeparatePasses() {
        var seed: UInt64 = 50
        for (cin, width, cout) in [(24, 16, 64), (20, 12, 40), (8, 8, 13)] {
            let c1 = Conv2D(weights: randoms(width * cin, &seed, scale: 0.4), bias: randoms(width, &seed, scale: 0.1),
                            outChannels: width, inChannels: cin, kernel: (1, 1), padding: .fixed(.none), activation: .relu)
            let c2 = Conv2D(weights: randoms(width * width * 9, &seed, scale: 0.2), outChannels: width, inChannels: width,
                            kernel: (3, 3), padding: .fixed(.symmetric(1)), activation: .relu)
            let c3 = Conv2D(weights: randoms(cout * width, &seed, scale: 0.4), bias: randoms(cout, &seed, scale: 0.1),
                            outChannels: cout, inChannels: width, kernel: (1, 1), padding: .fixed(.none))
            let projection = Conv2D(weights: randoms(cout * cin, &seed, scale: 0.4), outChannels: cout, inChannels: cin,
                                    kernel: (1, 1), padding: .fixed(.none))
            let block = Residual(Sequential([c1, c2, c3]), shortcut: projection, activation: .relu)
            let x = Tensor(shape: [3, 7, 9, cin], data: randoms(3 * 7 * 9 * cin, &seed), layout: .nhwc)
            for isa in ISA.supported {
                let plan = ExecutionPlan.default.with { $0.isa = isa }
                let body = Sequential([c1, c2, c3]).forward(x, plan)
                let want = Elementwise.add(body, projection.forward(x, plan), activation: .relu, plan)
                let got = block.forward(x, plan)
                XCTAssertEqual(got.data, want.data, "cout \(cout), \(isa)")
                XCTAssertTrue(got.data.contains(0) && got.data.contains { $0 > 0 }, "the ReLU does something")
                XCTAssertEqual(block.forward(x, plan.with { $0.gemmThreads = 2 }).data, want.data, "two cores, \(isa)")
            }
        }
    }
}
