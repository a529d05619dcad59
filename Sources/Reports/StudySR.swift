import DICOM
import Foundation

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
            let card = models[f.modelSha256]?.card ?? [:]
            let scoring = card["scoring"] as? [String: Any] ?? [:]
            if let p = code(scoring["procedure_code"]) { procedure = p }
            let finding = code(scoring["finding_code"]) ?? StructuredReportWriter.Code("DXK100", "99DXKIT", f.head)
            let name = card["name"] as? String ?? f.head
            let input = card["input"] as? [String: Any] ?? [:]
            let parameters = "head=\(f.head); threshold=\(f.threshold ?? 0.5); input=\(input["width"] ?? "?")x\(input["height"] ?? "?") \(input["resize"] ?? "") resize; weights_sha256=\(f.modelSha256)"
            return StructuredReportWriter.Finding(
                sopClassUID: f.sopClassUID!, sopInstanceUID: f.sopInstanceUID, seriesInstanceUID: f.seriesInstanceUID!,
                head: f.head, finding: finding, probability: f.probability ?? 0,
                calibratedProbability: f.calibratedProbability ?? f.probability ?? 0,
                positive: f.decision == (scoring["positive_class"] as? String), algorithmName: name,
                algorithmVersion: "dxkit \(version), weights \(f.modelSha256.prefix(16))", algorithmParameters: parameters)
        }
        try StructuredReportWriter.write(to: path, source: source, findings: findings, procedure: procedure,
                                         softwareVersion: "dxkit \(version)")
    }

    static func code(_ value: Any?) -> StructuredReportWriter.Code? {
        guard let d = value as? [String: Any], let v = d["value"] as? String, let s = d["scheme"] as? String,
              let m = d["meaning"] as? String else { return nil }
        return StructuredReportWriter.Code(v, s, m)
    }
}

/// A study that could not be reported, naming it and the reason.
struct ReportError: Error, CustomStringConvertible {
    var study: String
    var reason: String
    var description: String { reason }
}
