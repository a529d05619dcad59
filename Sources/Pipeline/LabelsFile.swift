import DICOM
import Foundation
import Evaluation

/// A labels CSV: a key column (`sop_instance_uid`, `study_instance_uid` or `path`), `label`
/// (0/1 or a class name), an optional `split` (train/val/test) and an optional `patient` (used
/// instead of PatientID for patient-level splits). Parsing checks every row and
/// reports each bad one by line number.
public struct LabelsFile: Sendable {
    public enum KeyKind: String, CaseIterable, Sendable { case sopInstanceUID = "sop_instance_uid", studyInstanceUID = "study_instance_uid", path }

    public struct Row: Sendable {
        public var line: Int
        public var key: String
        public var label: String
        public var split: String?
        /// From an optional `patient` column, for data whose PatientID is not per patient.
        public var patient: String?
        /// Every other column (e.g. demographics not in the DICOM headers), by header name.
        public var extra: [String: String] = [:]
    }

    public let path: String
    public let keyKind: KeyKind
    public let rows: [Row]
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
            var extra: [String: String] = [:]
            for (c, name) in header.enumerated() where ![keyColumn, labelColumn, splitColumn, patientColumn].contains(c) {
                let v = field(c)
                if !v.isEmpty { extra[name] = v }
            }
            rows.append(Row(line: line, key: key, label: label, split: split, patient: patient, extra: extra))
        }
        if !problems.isEmpty { throw EvaluationError(file: path, reason: problems.joined(separator: "; ")) }
        if rows.isEmpty { throw EvaluationError(file: path, reason: "no labelled rows") }
        self.rows = rows
    }
}

