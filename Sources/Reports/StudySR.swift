import DICOM
import Foundation
import Store

/// The study's DICOM SR: every scored finding, coded as its model card says.
enum StudySR {
    static func write(_ s: StudyReport, models: [String: ModelSummary], to path: String, version: String) throws {
        let scored = s.findings.filter { $0.status == "scored" && $0.sopClassUID != nil && $0.seriesInstanceUID != nil }
        guard !scored.isEmpty else {
            try? FileManager.default.removeItem(atPath: path)
            return
        }
        // Patient and study modules are copied from a source file: only from one that still holds
        // the content that was indexed and scored (a file replaced since must not lend its patient).
        guard let source = scored.first(where: { (try? ContentHash.sha256(file: $0.path)) == $0.contentSha256 })?.path else {
            throw ReportError(study: s.studyInstanceUID,
                              reason: "no source file of this study still holds the content that was scored (changed or removed since); run dxkit score again")
        }
        var procedure = StructuredReportWriter.Code("363679005", "SCT", "Imaging")
        let findings: [StructuredReportWriter.Finding] = scored.map { f in
            let card = models[f.modelSha256]?.card
            let scoring = card?.scoring
            if let p = scoring?.procedureCode { procedure = StructuredReportWriter.Code(p.value, p.scheme, p.meaning) }
            let finding = scoring?.findingCode.map { StructuredReportWriter.Code($0.value, $0.scheme, $0.meaning) }
                ?? StructuredReportWriter.Code("DXK100", "99DXKIT", f.head)
            let input = card.map { "\($0.input.width)x\($0.input.height) \($0.input.resize)" } ?? "?x? "
            let parameters = "head=\(f.head); threshold=\(f.threshold ?? 0.5); input=\(input) resize; weights_sha256=\(f.modelSha256)"
            return StructuredReportWriter.Finding(
                sopClassUID: f.sopClassUID!, sopInstanceUID: f.sopInstanceUID, seriesInstanceUID: f.seriesInstanceUID!,
                head: f.head, finding: finding, probability: f.probability ?? 0,
                calibratedProbability: f.calibratedProbability ?? f.probability ?? 0,
                positive: card?.decisionRule?.isPositive(f.decision) ?? false, algorithmName: card?.name ?? f.head,
                algorithmVersion: "dxkit \(version), weights \(f.modelSha256.prefix(16))", algorithmParameters: parameters)
        }
        try StructuredReportWriter.write(to: path, source: source, findings: findings, procedure: procedure,
                                         softwareVersion: "dxkit \(version)")
    }
}

/// A study that could not be reported, naming it and the reason.
struct ReportError: Error, CustomStringConvertible {
    var study: String
    var reason: String
    var description: String { reason }
}
