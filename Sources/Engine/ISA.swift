import CKernels

/// An instruction set the engine's kernels run (CKernels): every kernel — the packed GEMM, Winograd,
/// the fused inverted-residual and separable bands, depthwise, pooling, the stems — exists for
/// AVX-512, for AVX2 + FMA and as portable C (any CPU, aarch64 included). Which one runs is the
/// `ExecutionPlan`'s `isa`, passed to each kernel call: by default the best the CPU offers, or a
/// lower one named by the environment variable `DXKIT_ISA` (`avx512`, `avx2`, `generic`; read
/// into `ExecutionPlan.default`). Weights are packed the same way for all three, so one network
/// can run under several sets, one pass after another or at the same time.
///
/// Whatever the set, a result never depends on the batch: each image's outputs are computed by
/// the same operations in the same order whether it runs alone or with others, on one core or
/// several (see `Parallelism`). AVX2 and AVX-512 add in the same order with fused multiply-adds;
/// the portable path rounds each product on its own where the CPU has no FMA, so its last bits
/// may differ from theirs.
public enum ISA: Int32, CaseIterable, Comparable, CustomStringConvertible, Sendable {
    case generic = 0
    case avx2 = 1
    case avx512 = 2

    /// `avx512`, `avx2` or `generic`, as `DXKIT_ISA` spells them.
    public var description: String {
        switch self {
        case .generic: return "generic"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        }
    }

    public init?(_ name: String) {
        guard let isa = ISA.allCases.first(where: { $0.description == name }) else { return nil }
        self = isa
    }

    public static func < (a: ISA, b: ISA) -> Bool { a.rawValue < b.rawValue }

    /// The best set this CPU runs (whatever `DXKIT_ISA` says: that caps `ExecutionPlan.default`).
    public static let best: ISA = ISA(rawValue: dx_isa_cpu_best()) ?? .generic

    /// Every set this CPU runs, best first (all three on an AVX-512 machine).
    public static var supported: [ISA] { allCases.filter { $0 <= best }.reversed() }

    /// Measured single-core multiply-add peak of `isa` (FMA for AVX2 and AVX-512), GFLOP/s.
    public static func peakGFLOPS(_ isa: ISA, seconds: Double = 0.2) -> Double {
        dx_fma_peak_gflops(isa.rawValue, seconds)
    }
}
