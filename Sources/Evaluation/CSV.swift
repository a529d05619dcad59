import Foundation

/// A delimited table as spreadsheets and scripts write it: UTF-8 with or without a byte-order mark
/// (Excel's "CSV UTF-8"), or UTF-16 with its mark (Excel's "Unicode text"); `,`, `;` or tab
/// delimiters, told from the header line (the most frequent outside quotes); RFC 4180 quoting
/// (delimiters, doubled quotes and line breaks inside quoted fields); LF, CRLF or CR line ends.
/// Blank lines and rows of empty fields are skipped. Unquoted fields are trimmed of spaces.
/// Anything it cannot read — another encoding, a quote never closed, a row with more fields than
/// the header — is an `EvaluationError` naming the file, the line and the reason.
public struct CSVTable: Sendable {
    /// Column names, trimmed.
    public let header: [String]
    /// Data rows (without the header), each padded with empty fields to the header's width.
    public let rows: [[String]]
    /// The line (1-based) each data row starts on, for messages.
    public let lines: [Int]
    /// The delimiter found: ",", ";" or "\t".
    public let delimiter: Character
    /// The file named in errors.
    public let file: String

    /// Reads and parses `path`; `what` names the file's role in errors ("the CSV", "the labels file").
    public static func read(_ path: String, what: String = "the CSV") throws -> CSVTable {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvaluationError(file: path, reason: "cannot read \(what)")
        }
        return try CSVTable(data: data, file: path)
    }

    /// The index of column `name` (exact, after trimming), or an error listing the columns.
    public func column(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else {
            throw EvaluationError(file: file, reason: "no column '\(name)' (columns: \(header.joined(separator: ", ")); delimiter \(delimiterName))")
        }
        return i
    }

    var delimiterName: String { delimiter == "\t" ? "tab" : "'\(delimiter)'" }

    public init(data: Data, file: String) throws {
        self.file = file
        let text = try Self.utf8(data, file: file)
        let bytes = Array(text.utf8)
        let delimiter = Self.sniff(bytes)
        self.delimiter = Character(UnicodeScalar(delimiter))
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = [], field: [UInt8] = [], quoted = false, wasQuoted = false
        var line = 1, recordLine = 1, quoteLine = 1
        func endField() {
            var f = field
            if !wasQuoted {
                while let last = f.last, last == 0x20 || last == 0x09 && delimiter != 0x09 { f.removeLast() }
                let leading = f.prefix { $0 == 0x20 || $0 == 0x09 && delimiter != 0x09 }.count
                f.removeFirst(leading)
            }
            fields.append(String(decoding: f, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
        }
        func endRecord() {
            endField()
            if fields.contains(where: { !$0.isEmpty }) { records.append((recordLine, fields)) }
            fields.removeAll(keepingCapacity: true)
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if quoted {
                if c == 0x22 {
                    if i + 1 < bytes.count && bytes[i + 1] == 0x22 { field.append(0x22); i += 1 } else { quoted = false }
                } else {
                    if c == 0x0A || (c == 0x0D && (i + 1 >= bytes.count || bytes[i + 1] != 0x0A)) { line += 1 }
                    field.append(c)
                }
            } else if c == 0x22 && field.allSatisfy({ $0 == 0x20 }) && !wasQuoted {
                field.removeAll()
                quoted = true
                wasQuoted = true
                quoteLine = line
            } else if c == delimiter {
                endField()
            } else if c == 0x0A || c == 0x0D {
                if c == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            } else {
                field.append(c)
            }
            i += 1
        }
        if quoted {
            throw EvaluationError(file: file, reason: "line \(quoteLine): a quoted field is never closed (a \" without its closing \")")
        }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { endRecord() }
        guard let first = records.first else { throw EvaluationError(file: file, reason: "empty file: no header line") }
        header = first.fields
        let width = header.count
        var rows: [[String]] = [], lines: [Int] = []
        rows.reserveCapacity(records.count - 1)
        lines.reserveCapacity(records.count - 1)
        var problems: [String] = []
        let delimiterName = delimiter == 0x09 ? "tab" : "'\(Character(UnicodeScalar(delimiter)))'"
        for record in records.dropFirst() {
            var r = record.fields
            if r.count > width {
                if r[width...].allSatisfy(\.isEmpty) {
                    r.removeSubrange(width...)
                } else {
                    problems.append("line \(record.line): \(r.count) fields, the header has \(width) (delimiter \(delimiterName); quote fields that contain it)")
                    continue
                }
            }
            while r.count < width { r.append("") }
            rows.append(r)
            lines.append(record.line)
        }
        if !problems.isEmpty {
            throw EvaluationError(file: file, reason: problems.prefix(10).joined(separator: "; ")
                                  + (problems.count > 10 ? "; and \(problems.count - 10) more" : ""))
        }
        self.rows = rows
        self.lines = lines
    }

    /// The text as UTF-8 without a byte-order mark: UTF-8 (BOM optional) or UTF-16 with its BOM.
    static func utf8(_ data: Data, file: String) throws -> String {
        let bytes = [UInt8](data)
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            guard let text = String(data: data, encoding: .utf16) else {
                throw EvaluationError(file: file, reason: "starts with a UTF-16 byte-order mark but is not valid UTF-16")
            }
            return text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        }
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        if let text = String(validating: body, as: UTF8.self) { return text }
        var line = 1, start = 0
        for (i, b) in body.enumerated() where b == 0x0A {
            if String(validating: body[start..<i], as: UTF8.self) == nil { break }
            line += 1
            start = i + 1
        }
        throw EvaluationError(file: file, reason: "line \(line) is not UTF-8 text (save the file as \"CSV UTF-8\")")
    }

    /// The delimiter of the header (the first line that is not blank): the most frequent of `,`,
    /// `;` and tab outside quotes (a comma when none occurs, as in a one-column file).
    static func sniff(_ bytes: [UInt8]) -> UInt8 {
        var counts: [UInt8: Int] = [0x2C: 0, 0x3B: 0, 0x09: 0]
        var quoted = false, content = false
        for c in bytes {
            if c == 0x22 { quoted.toggle(); content = true; continue }
            if quoted { continue }
            if c == 0x0A || c == 0x0D { if content { break } else { continue } }
            if c != 0x20 { content = true }
            if counts[c] != nil { counts[c]! += 1 }
        }
        let best = [UInt8(0x2C), 0x3B, 0x09].max { counts[$0]! < counts[$1]! }!
        return counts[best]! > 0 ? best : 0x2C
    }

    /// A decimal number as written in the table: "0.25", or "0,25" where the delimiter is `;` or
    /// tab (spreadsheets in locales with a decimal comma).
    public func number(_ text: String) -> Double? {
        if let v = Double(text) { return v }
        guard delimiter != ",", text.filter({ $0 == "," }).count == 1, !text.contains(".") else { return nil }
        return Double(text.replacingOccurrences(of: ",", with: "."))
    }
}
