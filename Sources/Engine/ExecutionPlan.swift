import Foundation

/// How the engine runs a network: everything a forward pass needs besides the layers and the
/// input, fixed before the pass starts and handed down explicitly — `layer.forward(x, plan)`,
/// `Parallelism.forward(layer, x, plan: plan)`, `Classifier.logits(x, plan: plan)` — the way ggml
/// computes a `ggml_cplan` (threads, work buffer) for a graph before running it. The engine keeps
/// no setting of its own (nor do the C kernels, which take the instruction set as an argument), so
/// two plans can run the same network one after another or at the same time, each with its own
/// result: bit for bit the same whatever `threads`, `microBatch`, `gemmThreads` and `fuse` say
/// (see `Parallelism`); AVX2's bits are AVX-512's; the portable path and `winograd: false` agree
/// to rounding. The per-thread activation pools (`ActivationBuffers`) are caches, not settings.
///
/// Which fusions exist is decided once per network, by `Fusion.plan` (a step of its own, when a
/// network is loaded); `fuse` says whether a pass uses them.
public struct ExecutionPlan: Sendable {
    /// Cores a batch runs on (`Parallelism.forward`): each takes the next micro-batch in turn.
    public var threads: Int { didSet { threads = max(1, threads) } }
    /// Images each core runs through the network at once (small, so activations stay in cache).
    /// Two measured best here (make bench-models: EfficientNet-Lite0 125 → 157 images/s against
    /// a whole slice of 8 at once; MobileNetV2 179 → 197; Xception unchanged). A batch too small
    /// to give every core one is cut finer (two images on two cores: one each; Xception 27 → 54
    /// images/s at batch 2).
    public var microBatch: Int { didSet { microBatch = max(1, microBatch) } }
    /// Cores that share one image's operation (the engine's GEMM by rows or column panels,
    /// Winograd, depthwise and stem rows), through CKernels' worker pool. `Parallelism.forward`
    /// sets it for the layers it runs: `threads` when the batch runs as a whole (one image, or
    /// one core), 1 when the batch is split across cores.
    public var gemmThreads: Int { didSet { gemmThreads = max(1, gemmThreads) } }
    /// The instruction set every kernel runs; one above the CPU's (`ISA.best`) is lowered to it.
    public var isa: ISA {
        get { chosenISA }
        set { chosenISA = min(newValue, ISA.best) }
    }
    private var chosenISA: ISA
    /// Whether the fusions `Fusion.plan` found run (inverted residual bodies, separable
    /// convolutions and pairs of them a band of rows at a time: `BandedDepthwiseBlock`); off only
    /// to compare (`DXKIT_FUSE=0`). Same outputs either way.
    public var fuse: Bool
    /// Whether 3x3 stride-1 convolutions with 16+ input channels run by Winograd F(4x4, 3x3)
    /// (else im2col + the packed GEMM); off only to compare (`DXKIT_WINOGRAD=0`). Outputs agree to
    /// rounding.
    public var winograd: Bool
    /// Where per-operation times go (`dxkit classify --profile`); nil: nothing is timed.
    public var profiler: Profiler?

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, microBatch: Int = 2, gemmThreads: Int = 1,
                isa: ISA = .best, fuse: Bool = true, winograd: Bool = true, profiler: Profiler? = nil) {
        self.threads = max(1, threads)
        self.microBatch = max(1, microBatch)
        self.gemmThreads = max(1, gemmThreads)
        chosenISA = min(isa, ISA.best)
        self.fuse = fuse
        self.winograd = winograd
        self.profiler = profiler
    }

    /// This plan with `change` applied (`plan.with { $0.isa = .avx2 }`).
    public func with(_ change: (inout ExecutionPlan) -> Void) -> ExecutionPlan {
        var plan = self
        change(&plan)
        return plan
    }

    /// The process's plan when nobody gives one: `fromEnvironment()`, read once.
    public static let `default` = ExecutionPlan.fromEnvironment()

    /// A plan from the environment: all cores, two-image micro-batches, the CPU's best instruction
    /// set or the lower one `DXKIT_ISA` names (`avx512`, `avx2`, `generic`; a name above the CPU's
    /// is lowered to it, with a warning on standard error), fusion unless `DXKIT_FUSE=0`, Winograd
    /// unless `DXKIT_WINOGRAD=0`. The only place the engine reads its environment variables.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ExecutionPlan {
        ExecutionPlan(isa: isa(named: environment["DXKIT_ISA"]), fuse: environment["DXKIT_FUSE"] != "0",
                      winograd: environment["DXKIT_WINOGRAD"] != "0")
    }

    /// The set `DXKIT_ISA` names, capped by the CPU's (nil, empty, `native`, `best`: the CPU's).
    static func isa(named name: String?) -> ISA {
        let best = ISA.best
        guard let name, !name.isEmpty, name != "native", name != "best" else { return best }
        guard let isa = ISA(name) else {
            FileHandle.standardError.write(Data("dxkit: DXKIT_ISA=\(name) is not one of avx512, avx2, generic; using \(best)\n".utf8))
            return best
        }
        if isa > best {
            FileHandle.standardError.write(Data("dxkit: DXKIT_ISA=\(name): this CPU offers at most \(best); using \(best)\n".utf8))
        }
        return min(isa, best)
    }

    /// `layer` on `input`; a leaf (`LayerStructure.leaf`) timed under its operation's name when profiling.
    @inline(__always)
    func run(_ layer: Layer, _ input: Tensor) -> Tensor {
        // A graph times its own nodes.
        guard let profiler, case .leaf = layer.structure, !(layer is GraphNetwork) else { return layer.forward(input, self) }
        return profiler.timed(layer.operationName(self)) { layer.forward(input, self) }
    }

    /// `body` run, its time recorded under `name` when profiling.
    @inline(__always)
    func timedVoid(_ name: @autoclosure () -> String, _ body: () -> Void) {
        guard let profiler else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        profiler.record(name(), seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// `body`'s result, its time recorded under `name` when profiling.
    @inline(__always)
    func timed(_ name: @autoclosure () -> String, _ body: () -> Tensor) -> Tensor {
        guard let profiler else { return body() }
        return profiler.timed(name(), body)
    }
}
