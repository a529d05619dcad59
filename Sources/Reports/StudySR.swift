import DICOM
import Foundation
import Imaging
import Store

/// The study's DICOM objects: its SR (every scored finding, coded as its model card says: a
/// single-label head's one finding per image, a multi-label head's every finding per image, each
/// with its card code or a private 99DXKIT code named after it, Present/Absent) and each
/// heatmap as a Secondary Capture image in the study, referenced from the SR.
///
/// Identity is derived, never minted: the SR's series UID from the study and patient, its SOP
/// Instance UID from the study, the patient, each head's weights sha256 and the findings reported
/// (instance, decision, calibrated probability) — so reporting the same results again writes the
/// same UIDs and a PACS replaces instead of adding a copy, while changed results (new instances, a
/// recalibration) are a new instance in the same series. Heatmaps are derived from the source image,
/// head, weights and kind of map. Series numbers are dxkit's own (`srSeriesNumber`,
/// `heatmapSeriesNumber`), never the source's.
///
/// Why Secondary Capture for heatmaps: every PACS viewer displays a Secondary Capture image, and the
/// colour map is exactly the overlay the HTML report shows. A Grayscale Softcopy Presentation State
/// can only draw graphics and 1-bit overlays (no graded colour map), and a Segmentation needs a
/// viewer with SEG support and would reduce the graded evidence to a binary mask (fractional SEGs
/// are rarely rendered) — the reader would see less, or nothing.
enum StudySR {
    static let srSeriesNumber = 9901
    static let heatmapSeriesNumber = 9902
    static let deviceObserverUID = DerivedUID.make(["dxkit", "device observer"])

    static func write(_ s: StudyReport, models: [String: ModelSummary], folder: String, database: String,
                      version: String) throws -> [DicomOutputRecord] {
        let path = "\(folder)/sr.dcm"
        let scored = s.findings.filter { $0.status == "scored" && $0.sopClassUID != nil && $0.seriesInstanceUID != nil }
        let fm = FileManager.default
        guard !scored.isEmpty else {
            try? fm.removeItem(atPath: path)
            return []
        }
        // Patient and study modules are copied from a source file: only from one that still holds
        // the content that was indexed and scored (a file replaced since must not lend its patient).
        guard let source = scored.first(where: { (try? ContentHash.sha256(file: $0.path)) == $0.contentSha256 })?.path else {
            throw ReportError(study: s.studyInstanceUID,
                              reason: "no source file of this study still holds the content that was scored (changed or removed since); run dxkit score again")
        }
        let heatmapSeries = DerivedUID.make(["dxkit heatmap series", s.studyInstanceUID, s.patientKey])
        var outputs: [DicomOutputRecord] = []
        var procedure = SRCoding.imaging
        var codes: [SRCoding.Code] = []
        var identity = ["dxkit sr", s.studyInstanceUID, s.patientKey]
        var instanceNumber = 0
        var findings: [StructuredReportWriter.Finding] = []
        for f in scored {
            let card = models[f.modelSha256]?.card
            if let p = card?.scoring?.procedureCode { procedure = SRCoding.code(p) }
            // A multi-label head's finding (f.finding not empty) is coded by its own code or a
            // private one named after it, decided Present/Absent; its identities name it too.
            let multi = !f.finding.isEmpty
            let finding = multi ? SRCoding.finding(card, head: f.head, finding: f.finding) : SRCoding.finding(card, head: f.head)
            let decision = multi ? SRCoding.decision(finding: f.decision) : SRCoding.decision(card, decision: f.decision)
            let named = multi ? [f.finding] : []
            codes += [finding, decision]
            let calibrated = f.calibratedProbability ?? f.probability ?? 0
            identity += [f.sopInstanceUID, f.head] + named + [f.modelSha256, f.decision ?? "", String(format: "%.6f", calibrated)]
            // Heatmaps: the decided class's map, and the positive class's when the decision is negative.
            var maps: [String] = []
            for (kind, stored) in [("decided", f.heatmapPath), ("positive", f.positiveHeatmapPath)] {
                guard let stored else { continue }
                let png = StoredPath.resolve(stored, database: database)
                let uid = DerivedUID.make(["dxkit heatmap", f.sopInstanceUID, f.head] + named + [f.modelSha256, kind])
                instanceNumber += 1
                let out = "\(folder)/heatmap-\(instanceNumber).dcm"
                do {
                    try writeHeatmap(png: png, sopUID: uid, seriesUID: heatmapSeries, number: instanceNumber,
                                     finding: f, kind: kind, head: f.head, source: source, to: out, version: version)
                } catch {
                    throw ReportError(study: s.studyInstanceUID, reason: "heatmap of \(f.sopInstanceUID): \(error)")
                }
                maps.append(uid)
                outputs.append(DicomOutputRecord(sopInstanceUID: uid, sopClassUID: SecondaryCaptureWriter.sopClassUID,
                                                 seriesInstanceUID: heatmapSeries, studyInstanceUID: s.studyInstanceUID,
                                                 patientKey: s.patientKey, kind: .heatmap, path: out))
            }
            let input = card.map { "\($0.input.width)x\($0.input.height) \($0.input.resize)" } ?? "?x? "
            let parameters = "head=\(f.head); " + (multi ? "finding=\(f.finding); " : "") + "threshold=\(f.threshold ?? 0.5); input=\(input) resize; weights_sha256=\(f.modelSha256)"
            findings.append(StructuredReportWriter.Finding(
                sopClassUID: f.sopClassUID!, sopInstanceUID: f.sopInstanceUID, seriesInstanceUID: f.seriesInstanceUID!,
                head: multi ? "\(f.head) \(f.finding)" : f.head,
                trackingUID: DerivedUID.make(["dxkit tracking", f.sopInstanceUID, f.head] + named + [f.modelSha256]),
                finding: finding, decision: decision, probability: f.probability ?? 0, calibratedProbability: calibrated,
                algorithmName: card?.name ?? f.head, algorithmVersion: "dxkit \(version), weights \(f.modelSha256.prefix(16))",
                algorithmParameters: parameters, heatmapSOPInstanceUIDs: maps, heatmapSeriesUID: heatmapSeries))
        }
        // Heatmaps of an earlier report of this study that this one no longer has are removed.
        for name in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix("heatmap-") && name.hasSuffix(".dcm") {
            if !outputs.contains(where: { $0.path == "\(folder)/\(name)" }) { try? fm.removeItem(atPath: "\(folder)/\(name)") }
        }
        let document = StructuredReportWriter.Document(
            seriesInstanceUID: DerivedUID.make(["dxkit sr series", s.studyInstanceUID, s.patientKey]),
            sopInstanceUID: DerivedUID.make(identity), seriesNumber: srSeriesNumber, instanceNumber: 1,
            deviceObserverUID: deviceObserverUID, procedure: procedure, softwareVersion: "dxkit \(version)",
            privateSchemes: SRCoding.privateSchemes(codes + [procedure]))
        try StructuredReportWriter.write(to: path, source: source, document: document, findings: findings)
        outputs.append(DicomOutputRecord(sopInstanceUID: document.sopInstanceUID, sopClassUID: "1.2.840.10008.5.1.4.1.1.88.33",
                                         seriesInstanceUID: document.seriesInstanceUID, studyInstanceUID: s.studyInstanceUID,
                                         patientKey: s.patientKey, kind: .sr, path: path))
        return outputs
    }

    /// The overlay PNG as an RGB Secondary Capture image.
    static func writeHeatmap(png: String, sopUID: String, seriesUID: String, number: Int, finding f: StudyReport.Finding,
                             kind: String, head: String, source: String, to path: String, version: String) throws {
        let image = try PNGFile.read(png)
        var rgb = [UInt8](repeating: 0, count: image.width * image.height * 3)
        for i in 0..<(image.width * image.height) {
            for c in 0..<3 {
                rgb[i * 3 + c] = UInt8(max(0, min(255, image.pixels[i * image.channels + (image.channels == 3 ? c : 0)])))
            }
        }
        let explains = !f.finding.isEmpty ? "the finding \(f.finding) (the image's most probable)"
            : kind == "decided" ? "the decided class (\(f.decision ?? "?"))" : "the positive class"
        let identity = SecondaryCaptureWriter.Identity(
            seriesInstanceUID: seriesUID, sopInstanceUID: sopUID, seriesNumber: heatmapSeriesNumber, instanceNumber: number,
            seriesDescription: "dxkit heatmaps (research use only)",
            derivationDescription: "dxkit \(head) class activation map of \(explains) over the source image, scaled to its peak and shaded by the class probability; not for diagnosis",
            sourceSOPClassUID: f.sopClassUID ?? "", sourceSOPInstanceUID: f.sopInstanceUID, softwareVersion: "dxkit \(version)")
        try SecondaryCaptureWriter.write(rgb: rgb, width: image.width, height: image.height, identity: identity, source: source, to: path)
    }
}

/// A study that could not be reported, naming it and the reason.
struct ReportError: Error, CustomStringConvertible {
    var study: String
    var reason: String
    var description: String { reason }
}
