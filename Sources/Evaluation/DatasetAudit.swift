import Foundation

/// Composition of a dataset (indexed images or a manifest of metadata): counts and shares by
/// sex, age band, view, manufacturer, site and modality; how often each demographic tag is missing;
/// label prevalence per group with Wilson intervals and a chi-square test of independence; and
/// the shift of each attribute between splits (chi-square of attribute × split).
public struct DatasetAudit {
    public struct Record: Sendable {
        public var attributes: [String: String]
        public var label: Int?
        public var split: String?
        public init(attributes: [String: String], label: Int?, split: String?) {
            self.attributes = attributes
            self.label = label
            self.split = split
        }
    }

    public var attributes = ["sex", "age_band", "view_position", "manufacturer", "institution", "modality"]
    public var ageBands: [Double] = [18, 40, 65]

    public init() {}

    func value(_ attribute: String, _ r: Record) -> String { Grouping.value(attribute, r.attributes, ageBands: ageBands) }

    public func run(_ records: [Record]) -> DatasetAuditResult {
        var result = DatasetAuditResult(n: records.count)
        let labelled = records.filter { $0.label != nil }
        let splits = Array(Set(records.compactMap(\.split))).sorted()
        for attribute in attributes {
            let values = records.map { value(attribute, $0) }
            let counts = Dictionary(grouping: values, by: { $0 }).mapValues(\.count)
            result.composition[attribute] = counts.mapValues { .init(n: $0, share: Double($0) / Double(max(records.count, 1))) }
            result.missingness[attribute] = Double(counts["(missing)"] ?? 0) / Double(max(records.count, 1))
            if !labelled.isEmpty {
                let groups = Array(Set(labelled.map { value(attribute, $0) })).sorted()
                var entry = DatasetAuditResult.Prevalence()
                var table: [[Double]] = []
                for g in groups {
                    let members = labelled.filter { value(attribute, $0) == g }
                    let positives = members.filter { $0.label == 1 }.count
                    let ci = Statistics.wilson(positives, members.count)
                    entry.groups[g] = .init(n: members.count, positives: positives,
                                            prevalence: Double(positives) / Double(members.count), ci: ci.map { [$0.0, $0.1] })
                    table.append([Double(members.count - positives), Double(positives)])
                }
                entry.chiSquare = Statistics.chiSquare(table).map { .init(statistic: $0.statistic, dof: $0.degreesOfFreedom, pValue: $0.pValue) }
                result.labelPrevalence[attribute] = entry
            }
            if splits.count >= 2 {
                let groups = Array(Set(values)).sorted()
                let table = groups.map { g in splits.map { s in Double(records.filter { $0.split == s && value(attribute, $0) == g }.count) } }
                if let test = Statistics.chiSquare(table) {
                    result.splitShift[attribute] = .init(statistic: test.statistic, dof: test.degreesOfFreedom, pValue: test.pValue, splits: splits)
                }
            }
        }
        return result
    }

    /// Records from a metadata CSV without images: `mapping` names the CSV column for each of
    /// sex, age (years), view_position, manufacturer, institution, modality, label (0/1) and split.
    public static func manifest(_ path: String, mapping: [String: String]) throws -> [Record] {
        let table = try CSVTable.read(path, what: "the manifest")
        var index: [String: Int] = [:]
        for (key, column) in mapping {
            guard let i = table.header.firstIndex(of: column) else {
                throw EvaluationError(file: path, reason: "no column '\(column)' for \(key) (columns: \(table.header.joined(separator: ", ")))")
            }
            index[key] = i
        }
        return table.rows.map { row in
            func field(_ key: String) -> String? {
                guard let i = index[key] else { return nil }
                let v = row[i]
                return v.isEmpty ? nil : v
            }
            var attributes: [String: String] = [:]
            for key in ["sex", "view_position", "manufacturer", "institution", "modality"] { attributes[key] = field(key) }
            attributes["age_years"] = field("age")
            return Record(attributes: attributes, label: field("label").flatMap(Int.init), split: field("split"))
        }
    }
}

/// What a dataset audit found, as a value (stored as JSON, rendered by `Reports.AuditPage`).
public struct DatasetAuditResult: Codable, Sendable, Equatable {
    public struct Share: Codable, Sendable, Equatable {
        public var n: Int
        public var share: Double
    }

    public struct Test: Codable, Sendable, Equatable {
        public var statistic: Double
        public var dof: Int
        public var pValue: Double
        public var splits: [String]? = nil
        enum CodingKeys: String, CodingKey { case statistic, dof, pValue = "p_value", splits }
    }

    public struct GroupPrevalence: Codable, Sendable, Equatable {
        public var n: Int
        public var positives: Int
        public var prevalence: Double
        @Nullable public var ci: [Double]?
    }

    public struct Prevalence: Codable, Sendable, Equatable {
        public var groups: [String: GroupPrevalence] = [:]
        public var chiSquare: Test?
        enum CodingKeys: String, CodingKey { case groups, chiSquare = "chi_square" }
    }

    public var n: Int
    /// Attribute → group → count and share.
    public var composition: [String: [String: Share]] = [:]
    /// Attribute → share of records without it.
    public var missingness: [String: Double] = [:]
    /// Attribute → label prevalence per group (labelled records only).
    public var labelPrevalence: [String: Prevalence] = [:]
    /// Attribute → chi-square of attribute × split (two splits or more).
    public var splitShift: [String: Test] = [:]

    public init(n: Int) { self.n = n }

    enum CodingKeys: String, CodingKey {
        case n, composition, missingness, labelPrevalence = "label_prevalence", splitShift = "split_shift"
    }
}
