import Foundation
import Models
import Store

/// The parts of a study page that show a multi-label head's findings: the study's findings table
/// (per finding: probability, calibrated probability, threshold, decision), one card per image
/// listing every finding with its numbers and the most probable finding's heatmap, and the card's
/// findings and thresholds in the model summary. Every text is escaped.
enum MultiLabelSection {
    /// The threshold the study's scored results of the aggregate's head and finding were decided at.
    static func threshold(of a: StudyReport.Aggregate, in findings: [StudyReport.Finding]) -> Double? {
        findings.first { $0.head == a.head && $0.finding == a.finding && $0.status == "scored" }?.threshold
    }

    static func decisionClass(_ decision: String?) -> String { decision == FindingRule.present ? "pos" : "neg" }

    static func number(_ x: Double?, _ digits: Int = 4) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "—" }

    static func studyTable(_ aggregates: [StudyReport.Aggregate], findings: [StudyReport.Finding]) -> String {
        let e = HTML.escape
        var body = "<h2>Study findings</h2><table class=\"study-findings\"><tr><th>Head</th><th>Finding</th><th>Probability</th><th>Calibrated</th><th>Threshold</th><th>Decision</th><th>Rule</th><th>Images</th></tr>"
        for a in aggregates {
            body += "<tr class=\"study-finding\" data-finding=\"\(e(a.finding))\"><td>\(e(a.head))</td><td>\(e(a.finding))</td>"
            body += "<td>\(number(a.probability))</td><td>\(number(a.calibratedProbability))</td>"
            body += "<td>\(number(threshold(of: a, in: findings)))</td>"
            body += "<td class=\"\(decisionClass(a.decision))\">\(e(a.decision))</td><td>\(e(a.rule))</td><td>\(a.instances)</td></tr>"
        }
        return body + "</table>"
    }

    /// One image's findings of one multi-label head (rows in the card's order).
    static func imageCard(_ rows: [StudyReport.Finding], images: [String: String]) -> String {
        let e = HTML.escape
        guard let first = rows.first else { return "" }
        // Styled inline (wider than a single-label card, for the findings table): the shared style sheet,
        // and so single-label pages, stay as they are.
        var body = "<div class=\"card finding multilabel\" style=\"width:auto;max-width:520px\" data-sop=\"\(e(first.sopInstanceUID))\">"
        for f in rows {
            guard let img = images[StudyPage.imageKey(f, "decided")] else { continue }
            let caption = "Evidence for \(f.finding), the image's most probable finding (p = \(number(f.probability, 3)))"
            body += "<figure class=\"heatmap decided\" style=\"max-width:340px\"><img src=\"\(e(img))\" alt=\"heatmap of the evidence for \(e(f.finding)) over \(e(f.sopInstanceUID))\">"
            body += "<figcaption>\(e(caption))</figcaption></figure>"
        }
        body += "<div><strong>\(e(first.head))</strong> · \(e([first.modality, first.bodyPart, first.viewPosition, first.laterality].compactMap { $0 }.joined(separator: " ")))</div>"
        body += "<table class=\"findings\"><tr><th>Finding</th><th>Probability</th><th>Calibrated</th><th>Threshold</th><th>Decision</th></tr>"
        for f in rows {
            body += "<tr class=\"image-finding\" data-finding=\"\(e(f.finding))\"><td>\(e(f.finding))</td>"
            if f.status == "scored" {
                body += "<td class=\"probability\">\(number(f.probability))</td><td>\(number(f.calibratedProbability))</td>"
                body += "<td>\(number(f.threshold, 2))</td><td class=\"decision \(decisionClass(f.decision))\">\(e(f.decision ?? ""))</td></tr>"
            } else {
                body += "<td colspan=\"4\" class=\"muted\">\(e(f.status)): \(e(f.reason ?? ""))</td></tr>"
            }
        }
        body += "</table><div class=\"muted\"><code>\(e(first.sopInstanceUID))</code></div></div>"
        return body
    }

    /// The card's findings: name, threshold and code (escaped HTML).
    static func cardFindings(_ findings: [ModelCard.Scoring.Finding]) -> String {
        let e = HTML.escape
        return findings.map { f in
            let code = f.code.map { "\($0.scheme) \($0.value) \($0.meaning)" } ?? "private code (99DXKIT)"
            return "<span class=\"card-finding\">\(e(f.name)): threshold \(e(String(format: "%.2f", f.threshold))); \(e(code))</span>"
        }.joined(separator: "<br>")
    }
}
