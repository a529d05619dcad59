import Models
import Store

/// A head's study results: its scored results combined per study and patient by the card's rule —
/// "max" (the study's highest probability) or "laterality-mean-max" (the mean over each breast's
/// views, then the higher breast) — and decided by the head's `DecisionRule`. Two patients sharing
/// a Study Instance UID are never combined.
public enum StudyAggregation {
    public static func update(_ store: ResultStore, head: String, modelSha256: String, rule: String, decision: DecisionRule) throws {
        struct Key: Hashable { var study: String, patient: String }
        var byStudy: [Key: [(side: String, p: Double, cp: Double)]] = [:]
        for r in try store.scoredForAggregation(head: head, modelSha256: modelSha256) {
            byStudy[Key(study: r.study, patient: r.patientKey), default: []].append((r.side, r.probability, r.calibratedProbability))
        }
        let rows = byStudy.sorted { ($0.key.study, $0.key.patient) < ($1.key.study, $1.key.patient) }.map { key, items in
            let (p, cp) = combine(items, rule: rule)
            return StudyResultRow(study: key.study, patientKey: key.patient, probability: p, calibratedProbability: cp,
                                  decision: decision.decide(cp), rule: rule, instances: items.count)
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
