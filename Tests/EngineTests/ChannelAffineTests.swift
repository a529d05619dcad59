import XCTest
@testable import Engine

final class ChannelAffineTests: XCTestCase {
    /// BatchNorm then ReLU on its own equals the formula, value by value, in both layouts.
    func testBatchNormThenReLUInBothLayouts() {
        let bn = BatchNorm(gamma: [2, -1, 0.5], beta: [0.1, 0.2, -3], mean: [1, 0, -2], variance: [4, 1, 0.25], epsilon: 0)
        let layer = ChannelAffine(bn, activation: .relu)
        let values: [Float] = (0..<(2 * 3 * 2 * 2)).map { Float($0) * 0.37 - 4 }
        let nchw = Tensor(shape: [2, 3, 2, 2], data: values)
        let expected = (0..<values.count).map { i -> Float in
            let c = (i / 4) % 3
            let y = bn.gamma[c] * (values[i] - bn.mean[c]) / bn.variance[c].squareRoot() + bn.beta[c]
            return max(y, 0)
        }
        let a = layer.forward(nchw, .default)
        XCTAssertEqual(a.layout, .nchw)
        for (x, y) in zip(a.data, expected) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        let b = layer.forward(nchw.toNHWC(), .default).toNCHW()
        for (x, y) in zip(b.data, expected) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        XCTAssertTrue(expected.contains(0) && expected.contains { $0 > 1 }, "the case must exercise both sides of the ReLU")
    }
}
