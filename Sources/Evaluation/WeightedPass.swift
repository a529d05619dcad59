/// The metrics of one weighting of ranked scores (each group's own counts: the data as given; a
/// replicate's draws: one bootstrap replicate), from a single pass over the tie groups. Defined
/// exactly as `BinaryEvaluation` defines them (scikit-learn's): the AUROC counts ties one half,
/// average precision sums recall steps times precision over distinct thresholds, ECE uses
/// equal-width bins.
struct PassMetrics {
    var auroc: Double?
    var auprc: Double?
    var brier: Double
    var logLoss: Double
    var ece: Double
    var at: BinaryEvaluation.AtThreshold
}

/// What a pass needs besides the counts, fixed for a threshold and a number of bins: the groups'
/// bin boundaries and the threshold's cut, merged into one list of segment ends.
struct PassPlan {
    let threshold: Double
    let cut: Int
    /// Segment ends (group indices, ascending): every bin boundary and the cut.
    let ends: [Int]
    /// Whether each segment end closes a calibration bin.
    let closesBin: [Bool]

    init(_ r: RankedScores, threshold: Double, bins: Int) {
        self.threshold = threshold
        cut = r.groups(atOrAbove: threshold)
        let boundaries = Array(r.binBoundaries(bins).dropFirst()), cut = self.cut
        var ends = boundaries, closes = [Bool](repeating: true, count: ends.count)
        if cut > 0 && cut < r.groups && !boundaries.contains(cut) {
            let at = boundaries.firstIndex { $0 > cut } ?? boundaries.count
            ends.insert(cut, at: at)
            closes.insert(false, at: at)
        }
        self.ends = ends
        closesBin = closes
    }
}

extension RankedScores {
    /// One pass with `positive[g]` positives and `negative[g]` negatives in group g (the data's
    /// counts, or a stratified resample's: as many positives and negatives in total either way).
    func pass(positive pc: UnsafePointer<Int32>, negative nc: UnsafePointer<Int32>, plan: PassPlan) -> PassMetrics {
        score.withUnsafeBufferPointer { s in
        brierPositive.withUnsafeBufferPointer { bp in
        brierNegative.withUnsafeBufferPointer { bn in
        logLossPositive.withUnsafeBufferPointer { lp in
        logLossNegative.withUnsafeBufferPointer { ln in
            let totalPositive = Double(positives), total = Double(n)
            var tp = 0.0, fp = 0.0, auc = 0.0, ap = 0.0, previousRecall = 0.0
            var brier = 0.0, logLoss = 0.0, ece = 0.0
            var cutTP = 0.0, cutFP = 0.0
            var binW = 0.0, binS = 0.0, binY = 0.0
            var g = 0
            for (segment, end) in plan.ends.enumerated() {
                while g < end {
                    let tpg = Double(pc[g]), fpg = Double(nc[g])
                    auc += fpg * (tp + 0.5 * tpg)
                    tp += tpg
                    fp += fpg
                    if tpg > 0 {
                        let recall = tp / totalPositive
                        ap += (recall - previousRecall) * (tp / (tp + fp))
                        previousRecall = recall
                    }
                    brier += tpg * bp[g] + fpg * bn[g]
                    logLoss += tpg * lp[g] + fpg * ln[g]
                    let w = tpg + fpg
                    binW += w
                    binS += w * s[g]
                    binY += tpg
                    g += 1
                }
                if end == plan.cut { cutTP = tp; cutFP = fp }
                if plan.closesBin[segment] {
                    if binW > 0 { ece += abs(binY / binW - binS / binW) * binW }
                    binW = 0; binS = 0; binY = 0
                }
            }
            if plan.cut >= g { cutTP = tp; cutFP = fp }
            let totalNegative = total - totalPositive
            let at = BinaryEvaluation.AtThreshold(threshold: plan.threshold, tp: Int(cutTP), fp: Int(cutFP),
                                                  tn: Int(totalNegative - cutFP), fn: Int(totalPositive - cutTP))
            return PassMetrics(auroc: totalPositive > 0 && totalNegative > 0 ? auc / (totalPositive * totalNegative) : nil,
                               auprc: totalPositive > 0 ? ap : nil,
                               brier: brier / total, logLoss: logLoss / total, ece: ece / total, at: at)
        }}}}}
    }

    /// The pass over the data as given.
    func pointPass(threshold: Double, bins: Int) -> PassMetrics {
        guard n > 0 else {
            return PassMetrics(auroc: nil, auprc: nil, brier: .nan, logLoss: .nan, ece: 0,
                               at: BinaryEvaluation.AtThreshold(threshold: threshold, tp: 0, fp: 0, tn: 0, fn: 0))
        }
        return positiveCount.withUnsafeBufferPointer { p in
            negativeCount.withUnsafeBufferPointer { q in
                pass(positive: p.baseAddress!, negative: q.baseAddress!, plan: PassPlan(self, threshold: threshold, bins: bins))
            }
        }
    }
}
