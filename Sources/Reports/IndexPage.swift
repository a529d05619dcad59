import Foundation
import Models
import Store

/// `index.html`: every study with its findings, sortable by any column, linking to its report,
/// then the indexed instances no report shows and why. A multi-label head's cell names the
/// findings decided present in the study (with their probabilities), or "no finding present".
enum IndexPage {
    struct Entry {
        var study: StudyReport
        var folder: String
    }

    static func html(_ studies: [Entry], unreported: [(path: String, sop: String?, reason: String)], unreportedCount: Int,
                     run: RunRecord?) -> String {
        let e = HTML.escape
        var body = "<h1>dxkit reports</h1><p class=\"muted\">\(studies.count) studies. Click a column to sort.</p>"
        body += "<p class=\"warn\"><strong>Research use only — not for clinical use.</strong></p>"
        body += "<table class=\"sortable\" id=\"studies\"><thead><tr><th>Patient ID</th><th>Study date</th><th>Study UID</th><th>Finding</th><th>Probability</th><th>Images</th></tr></thead><tbody>"
        for entry in studies {
            let s = entry.study
            // Single-label heads: the highest study result's decision, as always; multi-label heads:
            // the findings decided present (highest first), or "no finding present".
            let top = s.aggregates.max { $0.probability < $1.probability }
            let single = s.aggregates.filter { $0.finding.isEmpty }.max { $0.probability < $1.probability }
            var parts = single.map { ["\($0.head): \($0.decision)"] } ?? []
            for head in Set(s.aggregates.filter { !$0.finding.isEmpty }.map(\.head)).sorted() {
                let present = s.aggregates.filter { $0.head == head && !$0.finding.isEmpty && $0.decision == FindingRule.present }
                    .sorted { $0.probability > $1.probability }
                parts.append("\(head): " + (present.isEmpty ? "no finding present"
                    : present.map { "\($0.finding) \(String(format: "%.2f", $0.probability))" }.joined(separator: ", ")))
            }
            let finding = parts.isEmpty ? (s.findings.first.map { "\($0.status)" } ?? "") : parts.joined(separator: "; ")
            let flag = s.conflict == nil ? "" : " <span class=\"warn conflict\">identity conflict</span>"
            body += "<tr><td>\(e(s.patientID ?? ""))</td><td>\(e(s.studyDate ?? ""))</td>"
            body += "<td><a href=\"\(e(HTML.urlSegment(entry.folder)))/report.html\">\(e(s.studyInstanceUID))</a>\(flag)</td>"
            body += "<td>\(e(finding))</td><td data-sort=\"\(top.map { String($0.probability) } ?? "-1")\">\(top.map { String(format: "%.4f", $0.probability) } ?? "—")</td>"
            // Results per image and head: a multi-label head's findings of one image count once.
            let results = s.findings.filter { $0.finding.isEmpty }.count
                + Set(s.findings.filter { !$0.finding.isEmpty }.map { $0.sopInstanceUID + "|" + $0.head }).count
            body += "<td>\(results)</td></tr>"
        }
        body += "</tbody></table>" + HTML.sortScript
        if !unreported.isEmpty {
            let more = unreportedCount > unreported.count ? " (the first \(unreported.count) by path are listed)" : ""
            body += "<h2>Instances in no report</h2><p class=\"muted\">\(unreportedCount) indexed instance(s) cannot be shown in a study report\(more).</p>"
            body += "<table id=\"unreported\"><thead><tr><th>File</th><th>SOP Instance UID</th><th>Why</th></tr></thead><tbody>"
            for u in unreported {
                body += "<tr><td><code>\(e(u.path))</code></td><td><code>\(e(u.sop ?? "—"))</code></td><td>\(e(u.reason))</td></tr>"
            }
            body += "</tbody></table>"
        }
        if let run {
            body += "<p class=\"muted\">dxkit \(e(run.version)), last run \(e(run.finishedAt ?? run.startedAt))</p>"
        }
        return HTML.page(title: "dxkit reports", body: body)
    }
}
