@testable import Engine
import XCTest

/// The engine's promise: an image's output does not depend on which other images share its batch,
/// nor on how the batch is split among cores (micro-batches taken in turn, one image's operations
/// shared) — bit for bit, on every instruction set. A patient's score must not change with the
/// batch it happened to be scored in.
final class ParallelismTests: XCTestCase {
    override func tearDown() {
        Parallelism.gemmThreads = 1
        Parallelism.fuseBottlenecks = true
    }

    /// A network that takes every path of the engine: the direct stem kernel, Winograd, im2col +
    /// GEMM, an inverted residual body run in bands (its input added as the GEMM stores), a pair
    /// of separable convolutions run in bands, a max pool adding a strided 1x1 shortcut, 3x3 and
    /// 5x5 depthwise row kernels at strides 1 and 2, average and global pooling, a dense head.
    static func everyPath(_ r: inout Seeded) -> Sequential {
        func conv(_ i: Int, _ o: Int, _ k: Int, _ s: Int = 1, _ a: Activation = .identity) -> Conv2D {
            Conv2D(weights: r.array(o * i * k * k).map { $0 * 0.5 }, bias: r.array(o), outChannels: o, inChannels: i,
                   kernel: (k, k), stride: s, padding: k == 1 ? .fixed(.none) : .same, activation: a)
        }
        func separable(_ i: Int, _ o: Int, _ a: Activation) -> SeparableConv2D {
            SeparableConv2D(depthwise: r.array(i * 9), pointwise: r.array(o * i).map { $0 * 0.3 }, inChannels: i,
                            outChannels: o, kernel: 3, padding: .same, batchNorm: nil, activation: a)
        }
        func depthwise(_ c: Int, _ k: Int, _ s: Int) -> DepthwiseConv2D {
            DepthwiseConv2D(weights: r.array(c * k * k), bias: r.array(c), channels: c, kernel: k, stride: s,
                            padding: .same, activation: .relu6)
        }
        let stem = conv(3, 16, 3, 2, .relu)        // direct kernel
        let winograd = conv(16, 24, 3, 1, .relu)   // 3x3 stride 1, 16+ inputs
        let strided = conv(24, 32, 3, 2, .relu)    // im2col + GEMM
        let inverted = Residual(Sequential([conv(32, 96, 1, 1, .relu6), depthwise(96, 3, 1), conv(96, 32, 1)]))
        let entry = Residual(Sequential([ActivationLayer(.relu), separable(32, 96, .relu), separable(96, 32, .identity),
                                         MaxPool2D(kernel: 3, stride: 2, padding: .same)]),
                             shortcut: Conv2D(weights: r.array(32 * 32), bias: r.array(32), outChannels: 32, inChannels: 32,
                                              kernel: (1, 1), stride: 2, padding: .same))
        return Sequential([ToNHWC(), stem, winograd, strided, inverted, entry, depthwise(32, 5, 2), depthwise(32, 3, 2),
                           depthwise(32, 5, 1), AvgPool2D(kernel: 3, stride: 1, padding: .same), GlobalAveragePool(),
                           Dense(weights: r.array(10 * 32), bias: r.array(10), inFeatures: 32, outFeatures: 10)])
    }

    func testEachImagesOutputIsItsOwnInAnyBatchOnAnyCoresOnEveryISA() {
        var r = Seeded(31)
        let net = Self.everyPath(&r)
        let (h, w) = (160, 150)  // 40x38 maps in the middle: the banded paths run
        XCTAssertNotNil((net.layers[4] as? Residual).flatMap { ($0.body as? Sequential)?.bottleneck })
        let images = (0..<5).map { _ in r.array(3 * h * w) }
        forEachISA { isa in
            Parallelism.gemmThreads = 1
            let alone = images.map { net.forward(Tensor(shape: [1, 3, h, w], data: $0)).data }
            for threads in [1, 2] {
                for n in [1, 2, 3, 5] {
                    let batch = Tensor(shape: [n, 3, h, w], data: Array(images.prefix(n).joined()))
                    let out = Parallelism.forward(net, batch, threads: threads)
                    XCTAssertEqual(out.shape, [n, 10, 1, 1])
                    XCTAssertEqual(out.data, Array(alone.prefix(n).joined()), "batch \(n), \(threads) threads, \(isa)")
                }
            }
        }
    }

    /// AVX2 and AVX-512 give the same bits (every kernel adds in the same order with fused
    /// multiply-adds); the portable path agrees to rounding (it may round each product on its own
    /// where the CPU has no FMA).
    func testInstructionSetsAgree() {
        var r = Seeded(32)
        let net = Self.everyPath(&r)
        let x = Tensor(shape: [2, 3, 160, 150], data: r.array(2 * 3 * 160 * 150))
        let outputs = Dictionary(uniqueKeysWithValues: ISA.supported.map { isa in (isa, ISA.with(isa) { net.forward(x).data }) })
        if let avx512 = outputs[.avx512], let avx2 = outputs[.avx2] { XCTAssertEqual(avx2, avx512, "AVX2 against AVX-512") }
        let reference = outputs[ISA.best]!
        let scale = reference.map(abs).max()!
        for (isa, out) in outputs {
            XCTAssertLessThan(maxAbsDiff(out, reference), 1e-4 * scale, "\(isa) against \(ISA.best)")
        }
    }
}
