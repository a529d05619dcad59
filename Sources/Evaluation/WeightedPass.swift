/// The metrics of one weighting of ranked scores (every weight 1: the data as given; resampling
/// counts: one bootstrap replicate), from a single pass over the sorted order. Defined exactly as
/// `BinaryEvaluation` defines them (scikit-learn's): the AUROC counts ties one half, average
/// precision sums recall steps times precision over distinct thresholds, ECE uses equal-width bins.
struct PassMetrics {
    var auroc: Double?
    var auprc: Double?
    var brier: Double
    var logLoss: Double
    var ece: Double
    var at: BinaryEvaluation.AtThreshold
}

extension RankedScores {
    /// One pass with `weights[k]` copies of the k-th item (every item once, or a stratified
    /// resample: either way as many positives and negatives in total as the data has). `cut` is
    /// `count(atOrAbove: threshold)`.
    func pass(weights: UnsafePointer<Int32>, threshold: Double, cut: Int, bins: Int) -> PassMetrics {
        score.withUnsafeBufferPointer { s in
        label.withUnsafeBufferPointer { y in
        brierTerm.withUnsafeBufferPointer { bt in
        logLossTerm.withUnsafeBufferPointer { lt in
        groupStart.withUnsafeBufferPointer { starts in
            var tp = 0.0, fp = 0.0, auc = 0.0, ap = 0.0, previousRecall = 0.0
            var brier = 0.0, logLoss = 0.0, ece = 0.0
            var cutTP = 0.0, cutFP = 0.0
            // The current calibration bin's weight, score sum and label sum (bins run downwards).
            var bin = n > 0 ? Self.bin(s[0], bins) : 0, binW = 0.0, binS = 0.0, binY = 0.0
            let totalPositive = Double(positives), total = Double(n)
            for g in 0..<(starts.count - 1) {
                let lo = Int(starts[g]), hi = Int(starts[g + 1])
                var tpg = 0.0, fpg = 0.0
                for k in lo..<hi {
                    let w = Double(weights[k])
                    let wy = w * y[k]
                    tpg += wy
                    fpg += w - wy
                    brier += w * bt[k]
                    logLoss += w * lt[k]
                    let b = Self.bin(s[k], bins)
                    if b != bin {
                        if binW > 0 { ece += abs(binY / binW - binS / binW) * binW }
                        bin = b; binW = 0; binS = 0; binY = 0
                    }
                    binW += w
                    binS += w * s[k]
                    binY += wy
                }
                if tpg + fpg > 0 {
                    auc += fpg * (tp + 0.5 * tpg)
                    tp += tpg
                    fp += fpg
                    if tpg > 0 {
                        let recall = tp / totalPositive
                        ap += (recall - previousRecall) * (tp / (tp + fp))
                        previousRecall = recall
                    }
                }
                if hi == cut { cutTP = tp; cutFP = fp }
            }
            if binW > 0 { ece += abs(binY / binW - binS / binW) * binW }
            let totalNegative = total - totalPositive
            let at = BinaryEvaluation.AtThreshold(threshold: threshold, tp: Int(cutTP), fp: Int(cutFP),
                                                  tn: Int(totalNegative - cutFP), fn: Int(totalPositive - cutTP))
            return PassMetrics(auroc: totalPositive > 0 && totalNegative > 0 ? auc / (totalPositive * totalNegative) : nil,
                               auprc: totalPositive > 0 ? ap : nil,
                               brier: brier / total, logLoss: logLoss / total, ece: ece / total, at: at)
        }}}}}
    }
}
