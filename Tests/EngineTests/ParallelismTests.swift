@testable import Engine
import XCTest

/// However a batch is split among cores (micro-batches taken in turn, one image's operations
/// shared), every image's output is the one it gets alone on one core.
final class ParallelismTests: XCTestCase {
    override func tearDown() {
        Parallelism.gemmThreads = 1
    }

    func testBatchesAndCoresGiveEachImageItsOwnOutput() {
        var r = Seeded(31)
        let c = 24
        let net = Sequential([
            ToNHWC(),
            Conv2D(weights: r.array(c * 3 * 9), bias: r.array(c), outChannels: c, inChannels: 3, kernel: (3, 3), stride: 2,
                   padding: .same, activation: .relu),
            Conv2D(weights: r.array(c * c * 9), bias: r.array(c), outChannels: c, inChannels: c, kernel: (3, 3),
                   padding: .same, activation: .relu),
            SeparableConv2D(depthwise: r.array(c * 9), pointwise: r.array(40 * c), inChannels: c, outChannels: 40, kernel: 3,
                            padding: .same, batchNorm: nil, activation: .relu),
            MaxPool2D(kernel: 3, stride: 2, padding: .same),
            GlobalAveragePool(),
        ])
        let (h, w) = (21, 19)
        let images = (0..<5).map { _ in r.array(3 * h * w) }
        Parallelism.gemmThreads = 1
        let alone = images.map { net.forward(Tensor(shape: [1, 3, h, w], data: $0)).data }
        for threads in [1, 2] {
            for n in [1, 2, 3, 5] {
                let batch = Tensor(shape: [n, 3, h, w], data: Array(images.prefix(n).joined()))
                let out = Parallelism.forward(net, batch, threads: threads)
                XCTAssertEqual(out.shape, [n, 40, 1, 1])
                XCTAssertEqual(out.data, Array(alone.prefix(n).joined()), "batch \(n), \(threads) threads")
            }
        }
    }
}
