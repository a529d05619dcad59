/// Stratified percentile bootstrap: resamples positives and negatives separately (so every
/// replicate keeps the prevalence), recomputes each metric, and takes the 2.5th and 97.5th
/// percentiles. Seeded: the same data and seed give the same intervals.
public struct Bootstrap {
    public var replicates: Int
    public var seed: UInt64

    public init(replicates: Int = 1000, seed: UInt64 = 20261126) {
        self.replicates = replicates
        self.seed = seed
    }

    /// Metrics named → 95% interval (metrics undefined in a replicate are skipped for it).
    public func intervals(_ e: BinaryEvaluation, threshold: Double, bins: Int) -> [String: (Double, Double)] {
        let pos = e.labels.indices.filter { e.labels[$0] == 1 }, neg = e.labels.indices.filter { e.labels[$0] == 0 }
        var state = seed
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var samples: [String: [Double]] = [:]
        for _ in 0..<max(1, replicates) {
            let idx = pos.map { _ in pos[next(pos.count)] } + neg.map { _ in neg[next(neg.count)] }
            let r = BinaryEvaluation(scores: idx.map { e.scores[$0] }, labels: idx.map { e.labels[$0] })
            let at = r.at(threshold)
            let values: [String: Double?] = [
                "auroc": r.auroc, "auprc": r.auprc, "brier": r.brier, "log_loss": r.logLoss,
                "ece": CalibrationBins(r, count: bins).ece, "sensitivity": at.sensitivity, "specificity": at.specificity,
                "ppv": at.ppv, "npv": at.npv, "f1": at.f1, "accuracy": at.accuracy, "selection_rate": at.selectionRate,
            ]
            for (k, v) in values { if let v { samples[k, default: []].append(v) } }
        }
        return samples.mapValues { values in
            let s = values.sorted()
            func q(_ p: Double) -> Double {
                let x = p * Double(s.count - 1)
                let lo = Int(x), hi = min(lo + 1, s.count - 1)
                return s[lo] + (s[hi] - s[lo]) * (x - Double(lo))
            }
            return (q(0.025), q(0.975))
        }
    }
}
