import DICOM
import Foundation
import Evaluation

/// A labels CSV: a key column (`sop_instance_uid`, `study_instance_uid` or `path`), `label`
/// (0/1 or a class name), an optional `split` (train/val/test) and an optional `patient` (used
/// instead of PatientID for patient-level splits). Parsing checks every row and
/// reports each bad one by line number.
///
/// Multi-label heads' labels are long-format: a `finding` column names the finding each row labels
/// (one row per key and finding; `label` 0/1 or absent/present), so one file can label every
/// finding, or only some. `forFinding(_:head:findings:)` checks the names and picks one finding's rows.
public struct LabelsFile: Sendable {
    public enum KeyKind: String, CaseIterable, Sendable { case sopInstanceUID = "sop_instance_uid", studyInstanceUID = "study_instance_uid", path }

    public struct Row: Sendable {
        public var line: Int
        public var key: String
        public var label: String
        public var split: String?
        /// From an optional `patient` column, for data whose PatientID is not per patient.
        public var patient: String?
        /// From an optional `finding` column: the multi-label finding this row labels.
        public var finding: String?
        /// Every other column (e.g. demographics not in the DICOM headers), by header name.
        public var extra: [String: String] = [:]
    }

    public let path: String
    public let keyKind: KeyKind
    public private(set) var rows: [Row]
    /// Whether the file has a `finding` column (a multi-label head's labels).
    public let hasFindingColumn: Bool
    /// Lowercase hex sha256 of the file's bytes (recorded in the model card).
    public let sha256: String

    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvaluationError(file: path, reason: "cannot read the labels file")
        }
        sha256 = data.withUnsafeBytes { ContentHash.sha256($0) }
        let table = try CSVTable(data: data, file: path)
        let header = table.header.map { $0.lowercased() }
        guard let kind = KeyKind.allCases.first(where: { header.contains($0.rawValue) }),
              let keyColumn = header.firstIndex(of: kind.rawValue) else {
            throw EvaluationError(file: path, reason: "no key column: expected one of sop_instance_uid, study_instance_uid, path")
        }
        guard let labelColumn = header.firstIndex(of: "label") else { throw EvaluationError(file: path, reason: "no label column") }
        let splitColumn = header.firstIndex(of: "split")
        let patientColumn = header.firstIndex(of: "patient")
        let findingColumn = header.firstIndex(of: "finding")
        hasFindingColumn = findingColumn != nil
        keyKind = kind
        var rows: [Row] = [], problems: [String] = []
        for (fields, line) in zip(table.rows, table.lines) {
            func field(_ c: Int) -> String { fields[c] }
            let key = field(keyColumn), label = field(labelColumn)
            let split = splitColumn.map(field).flatMap { $0.isEmpty ? nil : $0.lowercased() }
            if key.isEmpty { problems.append("line \(line): empty \(kind.rawValue)") }
            if label.isEmpty { problems.append("line \(line): empty label") }
            if let split, !["train", "val", "test"].contains(split) { problems.append("line \(line): split '\(split)' is not train/val/test") }
            let patient = patientColumn.map(field).flatMap { $0.isEmpty ? nil : $0 }
            let finding = findingColumn.map(field)
            if finding?.isEmpty == true { problems.append("line \(line): empty finding") }
            var extra: [String: String] = [:]
            for (c, name) in header.enumerated() where ![keyColumn, labelColumn, splitColumn, patientColumn, findingColumn].contains(c) {
                let v = field(c)
                if !v.isEmpty { extra[name] = v }
            }
            rows.append(Row(line: line, key: key, label: label, split: split, patient: patient, finding: finding, extra: extra))
        }
        if !problems.isEmpty { throw EvaluationError(file: path, reason: problems.joined(separator: "; ")) }
        if rows.isEmpty { throw EvaluationError(file: path, reason: "no labelled rows") }
        self.rows = rows
    }
}


extension LabelsFile {
    /// The rows labelling `finding` of a multi-label head (labels then read absent/present or 0/1),
    /// after checking the whole file against the head's `findings`: a `finding` column, every
    /// row's finding one of them, no key labelled twice for one finding. Errors name the file and
    /// the lines. `head` names the head in messages.
    public func forFinding(_ finding: String, head: String, findings: [String]) throws -> LabelsFile {
        guard hasFindingColumn else {
            throw EvaluationError(file: path, reason: "no finding column: \(head) is a multi-label head, so each row names the finding it labels (columns: key, finding, label; findings: \(findings.joined(separator: ", ")))")
        }
        var problems: [String] = [], seen: [String: Int] = [:]
        for row in rows {
            let name = row.finding ?? ""
            if !findings.contains(name) {
                problems.append("line \(row.line): finding '\(name)' is not one of \(head)'s (\(findings.joined(separator: ", ")))")
            }
            if let earlier = seen.updateValue(row.line, forKey: row.key + "\u{0}" + name) {
                problems.append("line \(row.line): \(keyKind.rawValue) \(row.key) is labelled for \(name) already on line \(earlier)")
            }
        }
        if !problems.isEmpty { throw EvaluationError(file: path, reason: problems.joined(separator: "; ")) }
        var selected = self
        selected.rows = rows.filter { $0.finding == finding }
        guard !selected.rows.isEmpty else {
            throw EvaluationError(file: path, reason: "no row labels finding \(finding) of \(head)")
        }
        return selected
    }

    /// The findings this file labels, in `order` (a multi-label head's findings).
    public func labelledFindings(in order: [String]) -> [String] {
        let named = Set(rows.compactMap(\.finding))
        return order.filter { named.contains($0) }
    }

    /// Refuses a `finding` column for a single-label head (its labels are one per key).
    public func checkSingleLabel(head: String) throws {
        if hasFindingColumn {
            throw EvaluationError(file: path, reason: "has a finding column, but \(head) is a single-label head: one row per key with its label, no finding column")
        }
    }
}
