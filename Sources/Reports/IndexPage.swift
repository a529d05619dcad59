import Foundation
import Store

/// `index.html`: every study with its findings, sortable by any column, linking to its report,
/// then the indexed instances no report shows and why.
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
            let top = s.aggregates.max { $0.probability < $1.probability }
            let finding = top.map { "\($0.head): \($0.decision)" } ?? (s.findings.first.map { "\($0.status)" } ?? "")
            let flag = s.conflict == nil ? "" : " <span class=\"warn conflict\">identity conflict</span>"
            body += "<tr><td>\(e(s.patientID ?? ""))</td><td>\(e(s.studyDate ?? ""))</td>"
            body += "<td><a href=\"\(e(HTML.urlSegment(entry.folder)))/report.html\">\(e(s.studyInstanceUID))</a>\(flag)</td>"
            body += "<td>\(e(finding))</td><td data-sort=\"\(top.map { String($0.probability) } ?? "-1")\">\(top.map { String(format: "%.4f", $0.probability) } ?? "—")</td>"
            body += "<td>\(s.findings.count)</td></tr>"
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
