import DICOM
import Models

/// How the SR codes what a model card says: the finding, the decision, the procedure, and which
/// coding schemes are private (identified in the Coding Scheme Identification Sequence).
enum SRCoding {
    typealias Code = StructuredReportWriter.Code

    /// dxkit's own scheme: the probability concepts, and the finding of a head whose card has none.
    static let dxkitScheme = StructuredReportWriter.CodingScheme(
        designator: "99DXKIT", name: "dxkit private codes", organization: "dxkit")
    /// Schemes PS3.16 defines (no identification needed).
    static let standardSchemes: Set<String> = ["DCM", "SCT", "SRT", "LN", "UCUM", "RFC5646", "FMA", "NCIt", "UMLS", "RADLEX", "ICD10"]

    static let present = Code("52101004", "SCT", "Present")
    static let absent = Code("2667000", "SCT", "Absent")
    static let imaging = Code("363679005", "SCT", "Imaging")

    static func code(_ c: ModelCard.Scoring.Code) -> Code { Code(c.value, c.scheme, c.meaning) }

    /// The finding a head reports (its card's finding code, else a private code named after the head).
    static func finding(_ card: ModelCard?, head: String) -> Code {
        card?.scoring?.findingCode.map(code) ?? Code("DXK100", "99DXKIT", head)
    }

    /// A multi-label head's finding: the code its card gives it (`scoring.findings[].code`), else a
    /// private 99DXKIT code named after it, whose value is derived from the name (stable across
    /// cards and runs; at most 16 characters, as SH allows).
    static func finding(_ card: ModelCard?, head: String, finding name: String) -> Code {
        if let c = card?.scoring?.findings?.first(where: { $0.name == name })?.code { return code(c) }
        return Code("DXKF" + nameHash(name), dxkitScheme.designator, name)
    }

    /// 12 hex digits of a 64-bit FNV-1a hash of `name` (the same on every machine and run).
    static func nameHash(_ name: String) -> String {
        let h = name.utf8.reduce(UInt64(14_695_981_039_346_656_037)) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 }
        let hex = String(h, radix: 16)
        return String((String(repeating: "0", count: max(0, 16 - hex.count)) + hex).suffix(12))
    }

    /// A multi-label finding's decision as its value: Present or Absent.
    static func decision(finding decision: String?) -> Code { decision == FindingRule.present ? present : absent }

    /// The decision as the finding's value: the card's code for the class, else Present/Absent.
    static func decision(_ card: ModelCard?, decision: String?) -> Code {
        if let decision, let c = card?.scoring?.decisionCodes?[decision] { return code(c) }
        let positive = card?.decisionRule?.isPositive(decision) ?? false
        return positive ? present : absent
    }

    /// Private schemes among `codes` (99xxx, or not a PS3.16 scheme), identified; dxkit's always is
    /// (the probability concepts use it).
    static func privateSchemes(_ codes: [Code]) -> [StructuredReportWriter.CodingScheme] {
        var out = [dxkitScheme]
        for scheme in Set(codes.map(\.scheme)).sorted() where scheme != dxkitScheme.designator && !standardSchemes.contains(scheme) {
            out.append(.init(designator: scheme, name: "\(scheme) (from the model card)", organization: "unknown"))
        }
        return out
    }
}
