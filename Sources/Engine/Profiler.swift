import Foundation

/// Per-operation wall time of forward passes, for `dxkit classify --profile`: a sink that an
/// `ExecutionPlan` carries (`plan.profiler`; nil, the default, times nothing). Containers time
/// each leaf layer they run under its `operationName`, and fused blocks time themselves.
/// Thread-safe: the cores of one pass record into it together.
public final class Profiler: @unchecked Sendable {
    private var totals: [String: (seconds: Double, calls: Int)] = [:]
    private let lock = NSLock()

    public init() {}

    /// `body`'s result, its time recorded under `name`.
    @inline(__always)
    func timed(_ name: String, _ body: () -> Tensor) -> Tensor {
        let start = DispatchTime.now().uptimeNanoseconds
        let out = body()
        record(name, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        return out
    }

    public func record(_ name: String, seconds: Double) {
        lock.lock()
        let t = totals[name] ?? (0, 0)
        totals[name] = (t.seconds + seconds, t.calls + 1)
        lock.unlock()
    }

    /// Operation kinds by total time, largest first.
    public func report() -> [(name: String, seconds: Double, calls: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return totals.map { ($0.key, $0.value.seconds, $0.value.calls) }.sorted { $0.seconds > $1.seconds }
    }

    public func reset() {
        lock.lock()
        totals = [:]
        lock.unlock()
    }
}
