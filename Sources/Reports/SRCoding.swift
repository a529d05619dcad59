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
