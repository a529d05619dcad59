import Foundation

/// Stratified percentile bootstrap: resamples positives and negatives separately (so every
/// replicate keeps the prevalence), recomputes each metric, and takes the 2.5th and 97.5th
/// percentiles. Seeded: the same data and seed give the same intervals, on any number of threads.
///
/// A replicate is not a new array to sort: its draws are counted at the items' positions in the
/// scores' one sorted order (`RankedScores`) and the metrics come from one weighted pass, O(n) per
/// replicate. Replicates are spread over `threads` (default: every core); replicate r takes the
/// random stream from r × n draws in (`ResamplingStream` jumps there), so the values are those of
/// the serial loop whatever the thread count.
public struct Bootstrap: Sendable {
    public var replicates: Int
    public var seed: UInt64
    /// Threads the replicates are spread over (nil: every active core). Results do not depend on it.
    public var threads: Int?
    /// Where intervals already computed for the same scores are kept (nil: none).
    public var cache: BootstrapCache?

    public init(replicates: Int = 1000, seed: UInt64 = 20261126, threads: Int? = nil, cache: BootstrapCache? = nil) {
        self.replicates = replicates
        self.seed = seed
        self.threads = threads
        self.cache = cache
    }

    /// The metrics each replicate computes, as `intervals` names them.
    public static let metricNames = ["auroc", "auprc", "brier", "log_loss", "ece", "sensitivity", "specificity", "ppv", "npv",
                                     "f1", "accuracy", "selection_rate"]

    /// Metrics named → 95% interval (metrics undefined in a replicate are skipped for it).
    public func intervals(_ e: BinaryEvaluation, threshold: Double, bins: Int) -> [String: (Double, Double)] {
        guard let cache else { return computeIntervals(e, threshold: threshold, bins: bins) }
        return cache.intervals(BootstrapCache.key(e, self, threshold: threshold, bins: bins)) {
            computeIntervals(e, threshold: threshold, bins: bins)
        }
    }

    func computeIntervals(_ e: BinaryEvaluation, threshold: Double, bins: Int) -> [String: (Double, Double)] {
        let values = replicateValues(e.ranked, threshold: threshold, bins: bins)
        var out: [String: (Double, Double)] = [:]
        for (m, name) in Self.metricNames.enumerated() {
            let defined = values[m].filter { !$0.isNaN }
            guard !defined.isEmpty else { continue }
            out[name] = Self.percentileInterval(defined.sorted())
        }
        return out
    }

    /// 2.5th and 97.5th percentiles of sorted values, interpolated linearly (NumPy's default).
    static func percentileInterval(_ s: [Double]) -> (Double, Double) {
        func q(_ p: Double) -> Double {
            let x = p * Double(s.count - 1)
            let lo = Int(x), hi = min(lo + 1, s.count - 1)
            return s[lo] + (s[hi] - s[lo]) * (x - Double(lo))
        }
        return (q(0.025), q(0.975))
    }

    /// Every replicate's value of each metric (`metricNames` order; NaN where undefined).
    func replicateValues(_ r: RankedScores, threshold: Double, bins: Int) -> [[Double]] {
        let count = max(1, replicates), metrics = Self.metricNames.count, n = r.n, groups = r.groups
        var flat = [Double](repeating: .nan, count: count * metrics)
        guard n > 0 else { return (0..<metrics).map { _ in [Double](repeating: .nan, count: count) } }
        let plan = PassPlan(r, threshold: threshold, bins: bins)
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, count))
        let chunk = (count + workers - 1) / workers
        let seed = self.seed
        flat.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            r.groupOfPositive.withUnsafeBufferPointer { pos in
            r.groupOfNegative.withUnsafeBufferPointer { neg in
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let first = w * chunk, last = min(count, first + chunk)
                    guard first < last else { return }
                    var stream = ResamplingStream(seed: seed)
                    stream.skip(UInt64(first) &* UInt64(n))
                    let positive = UnsafeMutablePointer<Int32>.allocate(capacity: groups)
                    let negative = UnsafeMutablePointer<Int32>.allocate(capacity: groups)
                    defer { positive.deallocate(); negative.deallocate() }
                    for replicate in first..<last {
                        positive.initialize(repeating: 0, count: groups)
                        negative.initialize(repeating: 0, count: groups)
                        if let p = pos.baseAddress { stream.scatter(count: pos.count, bound: pos.count, targets: p, into: positive) }
                        if let q = neg.baseAddress { stream.scatter(count: neg.count, bound: neg.count, targets: q, into: negative) }
                        let m = r.pass(positive: positive, negative: negative, plan: plan)
                        let row: [Double?] = [m.auroc, m.auprc, m.brier, m.logLoss, m.ece, m.at.sensitivity, m.at.specificity,
                                              m.at.ppv, m.at.npv, m.at.f1, m.at.accuracy, m.at.selectionRate]
                        for (i, v) in row.enumerated() { (base + i * count + replicate).pointee = v ?? .nan }
                    }
                }
            }}
        }
        return (0..<metrics).map { Array(flat[($0 * count)..<(($0 + 1) * count)]) }
    }
}

/// Intervals already computed, so that one report asking twice for the same scores' intervals
/// (`metrics` with group columns: each group's summary and its subgroup audit) resamples once.
/// Keyed by the scores and labels (their bits, hashed, and their count), threshold, bins, seed and
/// replicate count.
public final class BootstrapCache: @unchecked Sendable {
    private var stored: [Key: [String: (Double, Double)]] = [:]
    private let lock = NSLock()

    struct Key: Hashable {
        var n: Int, digest: UInt64, threshold: Double, bins: Int, seed: UInt64, replicates: Int
    }

    public init() {}

    static func key(_ e: BinaryEvaluation, _ b: Bootstrap, threshold: Double, bins: Int) -> Key {
        var h: UInt64 = 14695981039346656037
        for (s, y) in zip(e.scores, e.labels) {
            h = (h ^ s.bitPattern) &* 1099511628211
            h = (h ^ UInt64(bitPattern: Int64(y))) &* 1099511628211
        }
        return Key(n: e.n, digest: h, threshold: threshold, bins: bins, seed: b.seed, replicates: b.replicates)
    }

    func intervals(_ key: Key, compute: () -> [String: (Double, Double)]) -> [String: (Double, Double)] {
        lock.lock()
        if let hit = stored[key] { lock.unlock(); return hit }
        lock.unlock()
        let value = compute()
        lock.lock()
        stored[key] = value
        lock.unlock()
        return value
    }
}
