/// Everything a subgroup audit found, as a value: stored as JSON in the index, rendered by
/// `Reports.AuditPage`, printed by `dxkit audit`. Keys are snake_case; undefined values are null.
public struct SubgroupAuditResult: Codable, Sendable, Equatable {
    /// One group's performance with bootstrap intervals, ROC points and reliability bins.
    public struct Group: Codable, Sendable, Equatable {
        public var n: Int
        public var prevalence: Double
        @Nullable public var auroc: Double?
        @Nullable public var tpr: Double?
        @Nullable public var fpr: Double?
        @Nullable public var fnr: Double?
        @Nullable public var ppv: Double?
        public var selectionRate: Double
        public var ece: Double
        public var brier: Double
        /// Smaller than the audit's minimum size: reported, not judged.
        public var small: Bool
        /// Metric → [lower, upper] (95% bootstrap).
        public var ci: [String: [Double]]
        /// [fpr, tpr] points (nil with one class).
        public var roc: [[Double]]?
        public var reliability: [ReliabilityBin]

        enum CodingKeys: String, CodingKey {
            case n, prevalence, auroc, tpr, fpr, fnr, ppv, selectionRate = "selection_rate", ece, brier, small, ci, roc, reliability
        }
    }

    public struct ReliabilityBin: Codable, Sendable, Equatable {
        public var meanScore: Double
        public var observed: Double
        public var n: Int
        enum CodingKeys: String, CodingKey { case meanScore = "mean_score", observed, n }
    }

    /// A group's rate against the reference group's, and the verdict.
    public struct Disparity: Codable, Sendable, Equatable {
        public var value: Double
        public var reference: Double
        public var difference: Double
        @Nullable public var ratio: Double?
        /// "fair", "unfair" or "not judged (n < N)".
        public var verdict: String
    }

    /// One attribute (or intersection of two): its groups, the reference and the disparities.
    public struct Dimension: Codable, Sendable, Equatable {
        public var reference: String
        public var groups: [String: Group]
        /// Group → metric (tpr, fpr, fnr, ppv, selection_rate) → disparity (nil when undefined).
        public var disparities: [String: [String: Disparity?]]
        public var demographicParityDifference: Double
        public var equalizedOddsDifference: Double
        enum CodingKeys: String, CodingKey {
            case reference, groups, disparities
            case demographicParityDifference = "demographic_parity_difference", equalizedOddsDifference = "equalized_odds_difference"
        }
    }

    public var n: Int
    public var threshold: Double
    public var minimumSize: Int
    public var fairRatioRange: [Double]
    public var overall: Group
    /// Attribute (or "a & b") → its dimension.
    public var by: [String: Dimension]

    enum CodingKeys: String, CodingKey {
        case n, threshold, minimumSize = "minimum_size", fairRatioRange = "fair_ratio_range", overall, by
    }
}
