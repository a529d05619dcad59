import Foundation

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
    /// Points kept on each ROC and precision–recall curve (nil: every distinct threshold).
    public var curvePoints: Int? = 200
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
        let table = try CSVTable.read(path)
        let s = try table.column(scoreColumn), l = try table.column(labelColumn)
        let g = try groupColumns.map(table.column)
        var scores: [Double] = [], labels: [Int] = [], groupValues: [[String]] = [], problems: [String] = []
        scores.reserveCapacity(table.rows.count)
        labels.reserveCapacity(table.rows.count)
        for (row, line) in zip(table.rows, table.lines) {
            guard let score = table.number(row[s]), score >= 0, score <= 1 else {
                problems.append("line \(line): score '\(row[s])' is not a probability"); continue
            }
            guard let label = Int(row[l]), label == 0 || label == 1 else {
                problems.append("line \(line): label '\(row[l])' is not 0 or 1"); continue
            }
            scores.append(score)
            labels.append(label)
            groupValues.append(g.map { row[$0].isEmpty ? "(missing)" : row[$0] })
        }
        if !problems.isEmpty {
            throw EvaluationError(file: path, reason: problems.prefix(20).joined(separator: "; ")
                                  + (problems.count > 20 ? "; and \(problems.count - 20) more" : ""))
        }
        if scores.isEmpty { throw EvaluationError(file: path, reason: "no rows") }
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

    /// The result: every key present in its JSON; null where a value is undefined (e.g. AUROC with one class).
    public func json() -> MetricsResult {
        var report = self
        if report.bootstrap != nil && report.bootstrap?.cache == nil { report.bootstrap?.cache = BootstrapCache() }
        return report.result()
    }

    func result() -> MetricsResult {
        var out = MetricsResult(summary: summary(evaluation))
        if let (name, members) = groups.first, groups.count == 1 {
            out.groupColumn = name
            out.groups = .single(members.mapValues { summary($0) })
            out.demographicParityDifference = Fairness.demographicParityDifference(members, threshold: threshold)
            out.equalizedOddsDifference = Fairness.equalizedOddsDifference(members, threshold: threshold)
        }
        if !groups.isEmpty && !auditRows.isEmpty {
            var audit = SubgroupAudit()
            audit.attributes = Array(groups.keys).sorted()
            audit.threshold = threshold
            audit.bootstrap = bootstrap ?? Bootstrap(replicates: 200, cache: BootstrapCache())
            let labels = Dictionary(uniqueKeysWithValues: auditRows.indices.map { (Int64($0), evaluation.labels[$0]) })
            out.audit = audit.run(auditRows, labels: labels)
        }
        if groups.count > 1 {
            out.groups = .byColumn(groups.mapValues { members in
                MetricsResult.GroupColumn(groups: members.mapValues { summary($0) },
                                          demographicParityDifference: Fairness.demographicParityDifference(members, threshold: threshold),
                                          equalizedOddsDifference: Fairness.equalizedOddsDifference(members, threshold: threshold))
            })
        }
        return out
    }

    func summary(_ e: BinaryEvaluation) -> MetricsSummary {
        var out = Self.summary(e, threshold: threshold, bins: bins, curvePoints: curvePoints)
        if let bootstrap, e.bothClasses {
            out.bootstrapCI = bootstrap.intervals(e, threshold: threshold, bins: bins).mapValues { [$0.0, $0.1] }
            out.bootstrapReplicates = bootstrap.replicates
        }
        return out
    }

    static func summary(_ e: BinaryEvaluation, threshold: Double, bins: Int, curvePoints: Int? = nil) -> MetricsSummary {
        let point = e.pointPass(threshold: threshold, bins: bins)
        let at = point.at
        let calibration = CalibrationBins(e, count: bins)
        var out = MetricsSummary(
            n: e.n, prevalence: e.prevalence, auroc: point.auroc, aurocCI: e.aurocDeLong.map { [$0.0, $0.1] }, auprc: point.auprc,
            brier: point.brier, logLoss: point.logLoss, ece: calibration.ece, mce: calibration.mce, threshold: threshold,
            sensitivity: at.sensitivity, specificity: at.specificity, ppv: at.ppv, npv: at.npv, f1: at.f1, accuracy: at.accuracy,
            selectionRate: at.selectionRate,
            temperature: TemperatureScaling.fit(logits: e.scores.map(TemperatureScaling.logit), labels: e.labels),
            eceAdaptive: CalibrationBins(e, count: bins, equalMass: true).ece,
            reliability: calibration.bins.filter { $0.count > 0 }.map {
                .init(lower: $0.lower, upper: $0.upper, n: $0.count, meanScore: $0.meanScore!, observed: $0.meanLabel!)
            },
            smallSample: e.n < 30)
        out.roc = e.roc(maxPoints: curvePoints)
        out.pr = e.precisionRecall(maxPoints: curvePoints)
        return out
    }
}

/// The numbers of one set of scores (`metrics --json`, one group): discrimination, calibration and
/// rates at the threshold. Keys snake_case; undefined values null.
public struct MetricsSummary: Codable, Sendable, Equatable {
    public struct Bin: Codable, Sendable, Equatable {
        public var lower: Double, upper: Double
        public var n: Int
        public var meanScore: Double, observed: Double
        enum CodingKeys: String, CodingKey { case lower, upper, n, meanScore = "mean_score", observed }
    }

    public var n: Int
    public var prevalence: Double
    @Nullable public var auroc: Double?
    @Nullable public var aurocCI: [Double]?
    @Nullable public var auprc: Double?
    public var brier: Double
    public var logLoss: Double
    public var ece: Double
    public var mce: Double
    public var threshold: Double
    @Nullable public var sensitivity: Double?
    @Nullable public var specificity: Double?
    @Nullable public var ppv: Double?
    @Nullable public var npv: Double?
    @Nullable public var f1: Double?
    public var accuracy: Double
    public var selectionRate: Double
    public var temperature: Double
    public var eceAdaptive: Double
    public var reliability: [Bin]
    public var smallSample: Bool
    /// ROC curve points (nil with one class) and precision–recall points (nil without positives).
    @Nullable public var roc: ROCCurve? = nil
    @Nullable public var pr: PrecisionRecallCurve? = nil
    /// Metric → [lower, upper], with `--bootstrap`.
    public var bootstrapCI: [String: [Double]]? = nil
    public var bootstrapReplicates: Int? = nil

    enum CodingKeys: String, CodingKey {
        case n, prevalence, auroc, aurocCI = "auroc_ci", auprc, brier, logLoss = "log_loss", ece, mce, threshold, sensitivity,
             specificity, ppv, npv, f1, accuracy, selectionRate = "selection_rate", temperature, eceAdaptive = "ece_adaptive",
             reliability, smallSample = "small_sample", roc, pr, bootstrapCI = "bootstrap_ci", bootstrapReplicates = "bootstrap_replicates"
    }
}

/// What `dxkit metrics` reports: the summary of all scores (its keys at the top level), and with
/// group columns the groups, Fairlearn's parity differences and a subgroup audit.
public struct MetricsResult: Encodable, Sendable {
    public struct GroupColumn: Codable, Sendable, Equatable {
        public var groups: [String: MetricsSummary]
        public var demographicParityDifference: Double
        public var equalizedOddsDifference: Double
        enum CodingKeys: String, CodingKey {
            case groups, demographicParityDifference = "demographic_parity_difference", equalizedOddsDifference = "equalized_odds_difference"
        }
    }

    /// One group column: group → summary; several: column → its groups and differences.
    public enum Groups: Encodable, Sendable {
        case single([String: MetricsSummary]), byColumn([String: GroupColumn])
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case let .single(g): try c.encode(g)
            case let .byColumn(g): try c.encode(g)
            }
        }
    }

    public var summary: MetricsSummary
    public var groupColumn: String?
    public var groups: Groups?
    public var demographicParityDifference: Double?
    public var equalizedOddsDifference: Double?
    public var audit: SubgroupAuditResult?

    public init(summary: MetricsSummary) { self.summary = summary }

    enum CodingKeys: String, CodingKey {
        case groupColumn = "group_column", groups, demographicParityDifference = "demographic_parity_difference",
             equalizedOddsDifference = "equalized_odds_difference", audit
    }

    /// The summary's keys and the group keys in one object.
    public func encode(to encoder: Encoder) throws {
        try summary.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(groupColumn, forKey: .groupColumn)
        try c.encodeIfPresent(groups, forKey: .groups)
        try c.encodeIfPresent(demographicParityDifference, forKey: .demographicParityDifference)
        try c.encodeIfPresent(equalizedOddsDifference, forKey: .equalizedOddsDifference)
        try c.encodeIfPresent(audit, forKey: .audit)
    }
}
