import Foundation

/// Subgroup performance of a head on labelled, scored studies, as Aequitas and Fairlearn report it:
/// per group n, prevalence, AUROC, TPR, FPR, FNR, PPV, selection rate, ECE and Brier with bootstrap
/// intervals; disparities against a reference group (difference and ratio, "fair" when the ratio is
/// within [0.8, 1.25] by default); demographic-parity and equalized-odds differences; intersections.
/// Groups smaller than `minimumSize` are reported but not judged.
public struct SubgroupAudit {
    public var attributes = ["sex", "age_band"]
    public var ageBands: [Double] = [18, 40, 65]
    public var reference: String?
    public var intersections = false
    public var minimumSize = 30
    public var fairRange = (0.8, 1.25)
    public var threshold = 0.5
    public var bootstrap = Bootstrap(replicates: 500)

    public init() {}

    static let judged = ["tpr", "fpr", "fnr", "ppv", "selection_rate"]

    /// The group of a row under one attribute (age bands from age_years; missing values are their own group).
    public func value(_ attribute: String, _ row: AuditRow) -> String {
        Grouping.value(attribute, row.attributes, ageBands: ageBands)
    }

    /// Runs the audit on calibrated probabilities.
    public func run(_ rows: [AuditRow], labels: [Int64: Int]) -> SubgroupAuditResult {
        let items = rows.filter { labels[$0.instanceID] != nil }
        var dimensions: [[String]] = attributes.map { [$0] }
        if intersections && attributes.count > 1 {
            for i in 0..<attributes.count { for j in (i + 1)..<attributes.count { dimensions.append([attributes[i], attributes[j]]) } }
        }
        let all = BinaryEvaluation(scores: items.map(\.calibratedProbability), labels: items.map { labels[$0.instanceID]! })
        var byDimension: [String: SubgroupAuditResult.Dimension] = [:]
        for dims in dimensions {
            var members: [String: [AuditRow]] = [:]
            for r in items { members[dims.map { "\($0)=\(value($0, r))" }.joined(separator: " & "), default: []].append(r) }
            var evaluations: [String: BinaryEvaluation] = [:]
            for (g, m) in members {
                evaluations[g] = BinaryEvaluation(scores: m.map(\.calibratedProbability), labels: m.map { labels[$0.instanceID]! })
            }
            guard !evaluations.isEmpty else { continue }
            let groups = evaluations.mapValues { summary($0) }
            let ref = reference.flatMap { r in evaluations.keys.first { $0.hasSuffix("=\(r)") || $0 == r } }
                ?? evaluations.max { $0.value.n == $1.value.n ? $0.key > $1.key : $0.value.n < $1.value.n }!.key
            var disparities: [String: [String: SubgroupAuditResult.Disparity?]] = [:]
            let refAt = evaluations[ref]!.at(threshold)
            for (g, e) in evaluations where g != ref {
                let at = e.at(threshold)
                var metrics: [String: SubgroupAuditResult.Disparity?] = [:]
                for name in Self.judged {
                    guard let v = rate(name, at), let r = rate(name, refAt) else { metrics[name] = .some(nil); continue }
                    let ratio = r > 0 ? v / r : (v == 0 ? 1 : Double.infinity)
                    let verdict = e.n < minimumSize || evaluations[ref]!.n < minimumSize ? "not judged (n < \(minimumSize))"
                        : (ratio >= fairRange.0 && ratio <= fairRange.1 ? "fair" : "unfair")
                    metrics[name] = SubgroupAuditResult.Disparity(value: v, reference: r, difference: v - r,
                                                                  ratio: ratio.isFinite ? ratio : nil, verdict: verdict)
                }
                disparities[g] = metrics
            }
            byDimension[dims.joined(separator: " & ")] = SubgroupAuditResult.Dimension(
                reference: ref, groups: groups, disparities: disparities,
                demographicParityDifference: Fairness.demographicParityDifference(evaluations, threshold: threshold),
                equalizedOddsDifference: Fairness.equalizedOddsDifference(evaluations, threshold: threshold))
        }
        return SubgroupAuditResult(n: items.count, threshold: threshold, minimumSize: minimumSize,
                                   fairRatioRange: [fairRange.0, fairRange.1], overall: summary(all), by: byDimension)
    }

    func rate(_ name: String, _ at: BinaryEvaluation.AtThreshold) -> Double? {
        switch name {
        case "tpr": return at.sensitivity
        case "fpr": return at.fpr
        case "fnr": return at.fnr
        case "ppv": return at.ppv
        default: return at.selectionRate
        }
    }

    func summary(_ e: BinaryEvaluation) -> SubgroupAuditResult.Group {
        let at = e.at(threshold)
        let ci = e.bothClasses ? bootstrap.intervals(e, threshold: threshold, bins: 15) : [:]
        var intervals: [String: [Double]] = [:]
        for (name, key) in [("auroc", "auroc"), ("tpr", "sensitivity"), ("ppv", "ppv"), ("selection_rate", "selection_rate"),
                            ("ece", "ece"), ("brier", "brier")] {
            if let c = ci[key] { intervals[name] = [c.0, c.1] }
        }
        if let spec = ci["specificity"] { intervals["fpr"] = [1 - spec.1, 1 - spec.0] }
        let roc = e.rocCurve.map { roc in
            stride(from: 0, to: roc.count, by: max(1, roc.count / 60)).map { [roc[$0].0, roc[$0].1] } + [[1.0, 1.0]]
        }
        let reliability = CalibrationBins(e, count: 10).bins.filter { $0.count > 0 }.map {
            SubgroupAuditResult.ReliabilityBin(meanScore: $0.meanScore!, observed: $0.meanLabel!, n: $0.count)
        }
        return SubgroupAuditResult.Group(n: e.n, prevalence: e.prevalence, auroc: e.auroc, tpr: at.sensitivity, fpr: at.fpr,
                                         fnr: at.fnr, ppv: at.ppv, selectionRate: at.selectionRate, ece: CalibrationBins(e).ece,
                                         brier: e.brier, small: e.n < minimumSize, ci: intervals, roc: roc, reliability: reliability)
    }
}
