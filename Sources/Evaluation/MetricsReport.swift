import Foundation
import Store

/// What `dxkit metrics` reports for a CSV of scores produced anywhere: discrimination,
/// calibration (ECE, MCE, fitted temperature), rates at a threshold, and per group the same plus
/// Fairlearn's demographic-parity and equalized-odds differences.
public struct MetricsReport {
    public let evaluation: BinaryEvaluation
    public let threshold: Double
    public let bins: Int
    public let groups: [String: [String: BinaryEvaluation]]
    /// Stratified bootstrap for every metric's interval (nil: none).
    public var bootstrap: Bootstrap?
    /// The rows with their group values, for the subgroup audit (disparities and verdicts).
    public var auditRows: [AuditRow] = []

    public init(evaluation: BinaryEvaluation, threshold: Double = 0.5, bins: Int = 15,
                groups: [String: [String: BinaryEvaluation]] = [:], bootstrap: Bootstrap? = nil) {
        self.evaluation = evaluation
        self.threshold = threshold
        self.bins = bins
        self.groups = groups
        self.bootstrap = bootstrap
    }

    /// Reads scores, labels and group columns from a CSV; rows with a missing or non-numeric
    /// score or a label other than 0/1 are refused with their line numbers.
    public static func load(csv path: String, scoreColumn: String, labelColumn: String, groupColumns: [String],
                            threshold: Double, bins: Int) throws -> MetricsReport {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError(file: path, reason: "cannot read the CSV")
        }
        let table = CSV.parse(String(decoding: data, as: UTF8.self))
        guard let header = table.first?.map({ $0.trimmingCharacters(in: .whitespaces) }) else {
            throw StoreError(file: path, reason: "empty CSV")
        }
        func column(_ name: String) throws -> Int {
            guard let i = header.firstIndex(of: name) else {
                throw StoreError(file: path, reason: "no column '\(name)' (columns: \(header.joined(separator: ", ")))")
            }
            return i
        }
        let s = try column(scoreColumn), l = try column(labelColumn)
        let g = try groupColumns.map(column)
        var scores: [Double] = [], labels: [Int] = [], groupValues: [[String]] = [], problems: [String] = []
        for (i, row) in table.enumerated().dropFirst() where !(row.count == 1 && row[0].isEmpty) {
            func field(_ c: Int) -> String { c < row.count ? row[c].trimmingCharacters(in: .whitespaces) : "" }
            guard let score = Double(field(s)), score >= 0, score <= 1 else {
                problems.append("line \(i + 1): score '\(field(s))' is not a probability"); continue
            }
            guard let label = Int(field(l)), label == 0 || label == 1 else {
                problems.append("line \(i + 1): label '\(field(l))' is not 0 or 1"); continue
            }
            scores.append(score)
            labels.append(label)
            groupValues.append(g.map { field($0).isEmpty ? "(missing)" : field($0) })
        }
        if !problems.isEmpty { throw StoreError(file: path, reason: problems.prefix(20).joined(separator: "; ")) }
        if scores.isEmpty { throw StoreError(file: path, reason: "no rows") }
        var groups: [String: [String: BinaryEvaluation]] = [:]
        for (k, name) in groupColumns.enumerated() {
            var members: [String: [Int]] = [:]
            for (i, values) in groupValues.enumerated() { members[values[k], default: []].append(i) }
            groups[name] = members.mapValues { idx in BinaryEvaluation(scores: idx.map { scores[$0] }, labels: idx.map { labels[$0] }) }
        }
        var report = MetricsReport(evaluation: BinaryEvaluation(scores: scores, labels: labels), threshold: threshold, bins: bins,
                                   groups: groups)
        report.auditRows = scores.indices.map { i in
            AuditRow(instanceID: Int64(i), probability: scores[i], calibratedProbability: scores[i],
                     attributes: Dictionary(uniqueKeysWithValues: zip(groupColumns, groupValues[i])))
        }
        return report
    }

    /// The JSON object: every key present; null where a value is undefined (e.g. AUROC with one class).
    public func json() -> [String: Any] {
        var out = summary(evaluation)
        if let (name, members) = groups.first, groups.count == 1 {
            out["group_column"] = name
            out["groups"] = members.mapValues { summary($0) }
            out["demographic_parity_difference"] = Fairness.demographicParityDifference(members, threshold: threshold)
            out["equalized_odds_difference"] = Fairness.equalizedOddsDifference(members, threshold: threshold)
        }
        if !groups.isEmpty && !auditRows.isEmpty {
            var audit = SubgroupAudit()
            audit.attributes = Array(groups.keys).sorted()
            audit.threshold = threshold
            audit.bootstrap = bootstrap ?? Bootstrap(replicates: 200)
            let labels = Dictionary(uniqueKeysWithValues: auditRows.indices.map { (Int64($0), evaluation.labels[$0]) })
            out["audit"] = audit.run(auditRows, labels: labels)
        }
        if groups.count > 1 {
            out["groups"] = groups.mapValues { members in
                ["groups": members.mapValues { summary($0) },
                 "demographic_parity_difference": Fairness.demographicParityDifference(members, threshold: threshold),
                 "equalized_odds_difference": Fairness.equalizedOddsDifference(members, threshold: threshold)] as [String: Any]
            }
        }
        return out
    }

    func summary(_ e: BinaryEvaluation) -> [String: Any] {
        var out = Self.summary(e, threshold: threshold, bins: bins)
        if let bootstrap, e.bothClasses {
            out["bootstrap_ci"] = bootstrap.intervals(e, threshold: threshold, bins: bins).mapValues { [$0.0, $0.1] }
            out["bootstrap_replicates"] = bootstrap.replicates
        }
        return out
    }

    static func summary(_ e: BinaryEvaluation, threshold: Double, bins: Int) -> [String: Any] {
        let at = e.at(threshold)
        let calibration = CalibrationBins(e, count: bins)
        func v(_ x: Double?) -> Any { x ?? NSNull() }
        return [
            "n": e.n, "prevalence": e.prevalence, "auroc": v(e.auroc),
            "auroc_ci": e.aurocDeLong.map { [$0.0, $0.1] } ?? NSNull(), "auprc": v(e.auprc), "brier": e.brier,
            "log_loss": e.logLoss, "ece": calibration.ece, "mce": calibration.mce, "threshold": threshold,
            "sensitivity": v(at.sensitivity), "specificity": v(at.specificity), "ppv": v(at.ppv), "npv": v(at.npv),
            "f1": v(at.f1), "accuracy": at.accuracy, "selection_rate": at.selectionRate,
            "temperature": TemperatureScaling.fit(logits: e.scores.map(TemperatureScaling.logit), labels: e.labels),
            "ece_adaptive": CalibrationBins(e, count: bins, equalMass: true).ece,
            "reliability": calibration.bins.filter { $0.count > 0 }.map {
                ["lower": $0.lower, "upper": $0.upper, "n": $0.count, "mean_score": $0.meanScore!, "observed": $0.meanLabel!] as [String: Any]
            },
            "small_sample": e.n < 30,
        ]
    }
}
