import Models
import Store

/// A head's study results: its scored results combined per study, patient and finding by the card's
/// rule — "max" (the study's highest probability) or "laterality-mean-max" (the mean over each
/// breast's views, then the higher breast) — and decided by the finding's `DecisionRule`. Two
/// patients sharing a Study Instance UID are never combined. A single-label head has one finding,
/// `""`; a multi-label head one study result per finding, in the order of `decisions`' findings
/// as the card lists them (results of findings without a rule are left out).
public enum StudyAggregation {
    public static func update(_ store: ResultStore, head: String, modelSha256: String, rule: String, decision: DecisionRule) throws {
        try update(store, head: head, modelSha256: modelSha256, rule: rule, decisions: ["": decision])
    }

    /// `decisions`: each finding's rule by name (`order`: the findings' order in the study's rows;
    /// default: by name).
    public static func update(_ store: ResultStore, head: String, modelSha256: String, rule: String,
                              decisions: [String: DecisionRule], order: [String]? = nil) throws {
        struct Key: Hashable { var study: String, patient: String }
        var byStudy: [Key: [String: [(side: String, p: Double, cp: Double)]]] = [:]
        for r in try store.scoredForAggregation(head: head, modelSha256: modelSha256) where decisions[r.finding] != nil {
            byStudy[Key(study: r.study, patient: r.patientKey), default: [:]][r.finding, default: []]
                .append((r.side, r.probability, r.calibratedProbability))
        }
        let findings = order ?? decisions.keys.sorted()
        var rows: [StudyResultRow] = []
        for (key, perFinding) in byStudy.sorted(by: { ($0.key.study, $0.key.patient) < ($1.key.study, $1.key.patient) }) {
            for finding in findings {
                guard let items = perFinding[finding], let decision = decisions[finding] else { continue }
                let (p, cp) = combine(items, rule: rule)
                rows.append(StudyResultRow(study: key.study, patientKey: key.patient, finding: finding, probability: p,
                                           calibratedProbability: cp, decision: decision.decide(cp), rule: rule,
                                           instances: items.count))
            }
        }
        try store.replaceStudyResults(head: head, modelSha256: modelSha256, rows: rows)
    }

    /// (probability, calibrated probability) of a study under `rule`.
    public static func combine(_ items: [(side: String, p: Double, cp: Double)], rule: String) -> (Double, Double) {
        if rule == "laterality-mean-max" {
            var sides: [String: [(Double, Double)]] = [:]
            for i in items { sides[i.side, default: []].append((i.p, i.cp)) }
            let means = sides.values.map { v in
                (v.map(\.0).reduce(0, +) / Double(v.count), v.map(\.1).reduce(0, +) / Double(v.count))
            }
            return (means.map(\.0).max() ?? 0, means.map(\.1).max() ?? 0)
        }
        return (items.map(\.p).max() ?? 0, items.map(\.cp).max() ?? 0)
    }
}
