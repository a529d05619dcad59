import Foundation
import Store

/// Exported rows as text, one line per row: CSV (RFC 4180, header first, UTF-8) or JSON Lines
/// (one object per line, keys in column order, JSON columns embedded as JSON).
///
/// CSV text that a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage
/// return — values read from DICOM files are untrusted) is prefixed with a single quote, as OWASP
/// advises; numbers are never altered.
public struct TableWriter {
    /// `--format`: CSV or JSON Lines.
    public enum Format: String, CaseIterable, Sendable { case csv, jsonl }

    public let format: Format
    public let columns: [String]

    public init(format: Format, columns: [String]) {
        self.format = format
        self.columns = columns
    }

    /// The CSV header line, or nothing for JSON Lines.
    public var header: String? { format == .csv ? columns.map(Self.csvField).joined(separator: ",") + "\r\n" : nil }

    public func line(_ values: [ExportValue]) -> String {
        switch format {
        case .csv:
            return values.map { v -> String in
                switch v {
                case .null: return ""
                case let .integer(i): return String(i)
                case let .real(d): return Self.number(d)
                case let .text(s): return Self.csvField(Self.neutralised(s))
                case let .json(s): return Self.csvField(s)
                }
            }.joined(separator: ",") + "\r\n"
        case .jsonl:
            return "{" + zip(columns, values).map { name, v -> String in
                let value: String
                switch v {
                case .null: value = "null"
                case let .integer(i): value = String(i)
                case let .real(d): value = d.isFinite ? Self.number(d) : "null"
                case let .text(s): value = Self.jsonString(s)
                case let .json(s): value = (try? JSONSerialization.jsonObject(with: Data(s.utf8), options: [.fragmentsAllowed])) != nil ? s : Self.jsonString(s)
                }
                return Self.jsonString(name) + ":" + value
            }.joined(separator: ",") + "}\n"
        }
    }

    /// Shortest text that reads back as the same Double.
    static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || s.hasPrefix(" ") || s.hasSuffix(" ") else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func neutralised(_ s: String) -> String {
        guard let first = s.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return s }
        return "'" + s
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7F || (0x2028...0x2029).contains(u.value) { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
