@testable import Engine
import XCTest

/// The engine's promise: an image's output does not depend on which other images share its batch,
/// nor on how the batch is split among cores (micro-batches taken in turn, one image's operations
/// shared) — bit for bit, on every instruction set. A patient's score must not change with the
/// batch it happened to be scored in.
final class ParallelismTests: XCTestCase {
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
        let built = Self.everyPath(&r)
        let net = Fusion.plan(built)
        let (h, w) = (160, 150)  // 40x38 maps in the middle: the banded paths run
        let planned = (net as? Sequential)?.layers
        XCTAssertTrue(((planned?[4] as? Residual)?.body as? BandedDepthwiseBlock)?.kind == .invertedResidual, "fused body")
        let images = (0..<5).map { _ in r.array(3 * h * w) }
        forEachISA { plan in
            let alone = images.map { net.forward(Tensor(shape: [1, 3, h, w], data: $0), plan).data }
            XCTAssertEqual(built.forward(Tensor(shape: [1, 3, h, w], data: images[0]), plan).data, alone[0],
                           "the network as built (no fusion) gives the fused one's bits, \(plan.isa)")
            for threads in [1, 2] {
                for n in [1, 2, 3, 5] {
                    let batch = Tensor(shape: [n, 3, h, w], data: Array(images.prefix(n).joined()))
                    let out = Parallelism.forward(net, batch, plan: plan.with { $0.threads = threads })
                    XCTAssertEqual(out.shape, [n, 10, 1, 1])
                    XCTAssertEqual(out.data, Array(alone.prefix(n).joined()), "batch \(n), \(threads) threads, \(plan.isa)")
                }
            }
        }
    }

    /// AVX2 and AVX-512 give the same bits (every kernel adds in the same order with fused
    /// multiply-adds); the portable path agrees to rounding (it may round each product on its own
    /// where the CPU has no FMA).
    func testInstructionSetsAgree() {
        var r = Seeded(32)
        let net = Fusion.plan(Self.everyPath(&r))
        let x = Tensor(shape: [2, 3, 160, 150], data: r.array(2 * 3 * 160 * 150))
        var outputs: [ISA: [Float]] = [:]
        forEachISA { plan in outputs[plan.isa] = net.forward(x, plan).data }
        if let avx512 = outputs[.avx512], let avx2 = outputs[.avx2] { XCTAssertEqual(avx2, avx512, "AVX2 against AVX-512") }
        let best = testedISAs[0], reference = outputs[best]!
        let scale = reference.map(abs).max()!
        for (isa, out) in outputs {
            XCTAssertLessThan(maxAbsDiff(out, reference), 1e-4 * scale, "\(isa) against \(best)")
        }
    }

    /// The engine keeps no settings: plans with different instruction sets, thread counts,
    /// micro-batches, fusion and profiling run the same network one after another and at the same
    /// time, each giving what it documents — the same bits whatever its threads, micro-batch and
    /// fusion; AVX2's bits AVX-512's; the portable path its own bits (it rounds each product, where
    /// the CPU has FMA), within rounding of theirs — and only a plan with a profiler records.
    func testPlansWithDifferentSettingsRunSideBySide() {
        var r = Seeded(33)
        let net = Fusion.plan(Self.everyPath(&r))
        let (n, h, w) = (3, 160, 150)
        let batch = Tensor(shape: [n, 3, h, w], data: r.array(n * 3 * h * w))
        let profiler = Profiler()
        // Every tested set, each with other cores, micro-batches, fusion; the best one profiled.
        let plans: [ExecutionPlan] = testedISAs.enumerated().map { i, isa in
            ExecutionPlan.default.with {
                $0.isa = isa
                $0.threads = i % 2 == 0 ? 2 : 1
                $0.microBatch = i + 1
                $0.fuse = i % 2 == 0
                $0.profiler = i == 0 ? profiler : nil
            }
        }
        let reference = plans.map { Parallelism.forward(net, batch, plan: $0).data }
        XCTAssertFalse(profiler.report().isEmpty, "the profiled plan recorded its operations")
        for (plan, want) in zip(plans, reference) {
            let single = plan.with { $0.threads = 1; $0.microBatch = 2; $0.fuse = true; $0.profiler = nil }
            XCTAssertEqual(Parallelism.forward(net, batch, plan: single).data, want, "\(plan.isa): cores, micro-batch, fusion")
        }
        let outputs = Dictionary(uniqueKeysWithValues: zip(plans.map(\.isa), reference))
        if let avx512 = outputs[.avx512], let avx2 = outputs[.avx2] { XCTAssertEqual(avx2, avx512, "AVX2 against AVX-512") }
        if let generic = outputs[.generic], let best = outputs[ISA.best], ISA.best != .generic {
            XCTAssertNotEqual(generic, best, "the portable path ran (its own rounding), not the best set")
            XCTAssertLessThan(maxAbsDiff(generic, best), 1e-4 * best.map(abs).max()!)
        }
        // One after another, alternating, then all at once (twice over): each plan's own bits.
        for plan in plans + plans.reversed() {
            XCTAssertEqual(Parallelism.forward(net, batch, plan: plan).data, reference[plans.firstIndex { $0.isa == plan.isa }!],
                           "\(plan.isa) after another plan")
        }
        // At the same time: each plan on the batch, and on its first image alone with two cores
        // sharing each operation (CKernels' worker pool, one region at a time, shared by all).
        let first = Tensor(shape: [1, 3, h, w], data: Array(batch.data[..<(3 * h * w)]))
        let calls = 2 * plans.count
        let results = ResultBox(count: calls)
        profiler.reset()
        DispatchQueue.concurrentPerform(iterations: calls) { i in
            let plan = plans[i / 2]
            results.set(i, i % 2 == 0 ? Parallelism.forward(net, batch, plan: plan).data
                                      : Parallelism.forward(net, first, plan: plan.with { $0.threads = 2 }).data)
        }
        for i in 0..<calls {
            let want = reference[i / 2], isa = plans[i / 2].isa
            if i % 2 == 0 {
                XCTAssertEqual(results.values[i], want, "\(isa) beside the other plans")
            } else {
                XCTAssertEqual(results.values[i], Array(want[..<10]), "\(isa), one image on two cores, beside the other plans")
            }
        }
        XCTAssertFalse(profiler.report().isEmpty, "the profiled plan recorded beside the others")
    }
}

/// Results written from several threads.
final class ResultBox: @unchecked Sendable {
    private(set) var values: [[Float]]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ value: [Float]) { lock.lock(); values[i] = value; lock.unlock() }
}
