import Foundation
import Models
import Store

/// One study's report: identification, each scored image with its heatmap, probability,
/// calibrated probability and decision, the study-level result, the models' card summaries
/// and the run's provenance; and the same findings as JSON. Multi-label heads' findings are
/// drawn by `MultiLabelSection` (in result.json: `finding` and `threshold` on their rows).
enum StudyPage {
    static func html(_ s: StudyReport, images: [String: String], models: [String: ModelSummary], run: RunRecord?) -> String {
        let e = HTML.escape
        var body = "<h1>dxkit study report</h1>"
        body += "<p class=\"warn\"><strong>Research use only — not for clinical use.</strong> These outputs come from demonstration models and must not inform diagnosis or treatment.</p>"
        if let conflict = s.conflict {
            body += "<p class=\"warn conflict\"><strong>Identity conflict:</strong> this Study Instance UID is shared by instances of more than one patient (\(e(conflict))). This report shows only the images of patient \(e(s.patientKey)); the study's other patient has a report of its own. Check the source data before using either.</p>"
        }
        body += "<h2>Patient and study</h2><table>"
        let rows: [(String, String?)] = [
            ("Patient ID", s.patientID), ("Patient name", s.patientName), ("Sex", s.sex),
            ("Age (years)", s.age.map { String(format: "%.0f", $0) }), ("Study Instance UID", s.studyInstanceUID),
            ("Study date", s.studyDate), ("Accession number", s.accessionNumber), ("Description", s.description),
        ]
        for (k, v) in rows { body += "<tr><th>\(e(k))</th><td class=\"field\" data-field=\"\(e(k))\">\(e(v ?? "—"))</td></tr>" }
        body += "</table>"

        let single = s.aggregates.filter { $0.finding.isEmpty }, multi = s.aggregates.filter { !$0.finding.isEmpty }
        if !single.isEmpty {
            body += "<h2>Study result</h2><table><tr><th>Head</th><th>Probability</th><th>Calibrated</th><th>Decision</th><th>Rule</th><th>Images</th></tr>"
            for a in single {
                body += "<tr class=\"study-result\"><td>\(e(a.head))</td><td>\(String(format: "%.4f", a.probability))</td><td>\(String(format: "%.4f", a.calibratedProbability))</td>"
                let positive = positiveClass(head: a.head, models: models) == a.decision
                body += "<td class=\"\(positive ? "pos" : "neg")\">\(e(a.decision))</td><td>\(e(a.rule))</td><td>\(a.instances)</td></tr>"
            }
            body += "</table>"
        }
        if !multi.isEmpty { body += MultiLabelSection.studyTable(multi, findings: s.findings) }

        body += "<h2>Images</h2>"
        if !images.isEmpty {
            body += "<p class=\"muted heatmap-note\">Each heatmap is a class activation map (Grad-CAM) of the class named under it, normalised to its own peak and shaded by that class's probability: a faint map is a weak case, full colour means probability 1. It shows where the network looked, not where a finding is.</p>"
        }
        body += "<div class=\"grid\">"
        var index = 0
        while index < s.findings.count {
            let f = s.findings[index]
            if !f.finding.isEmpty {
                // A multi-label head's findings of one image: one card, every finding in a table.
                var end = index
                while end < s.findings.count, s.findings[end].sopInstanceUID == f.sopInstanceUID, s.findings[end].head == f.head,
                      !s.findings[end].finding.isEmpty { end += 1 }
                body += MultiLabelSection.imageCard(Array(s.findings[index..<end]), images: images)
                index = end
                continue
            }
            index += 1
            body += "<div class=\"card finding\" data-sop=\"\(e(f.sopInstanceUID))\">"
            let positiveName = models[f.modelSha256].flatMap { positiveClass(head: $0.head, models: models) }
            let p = f.probability ?? 0
            let decidedIsPositive = f.decision != nil && f.decision == positiveName
            let maps: [(kind: String, label: String, probability: Double)] = [
                ("decided", f.decision ?? "", decidedIsPositive ? p : 1 - p),
                ("positive", positiveName ?? "", p),
            ]
            for map in maps {
                guard let img = images[imageKey(f, map.kind)] else { continue }
                let caption = "Evidence for \(map.label) (p = \(String(format: "%.3f", map.probability)))"
                body += "<figure class=\"heatmap \(map.kind)\"><img src=\"\(e(img))\" alt=\"heatmap of the evidence for \(e(map.label)) over \(e(f.sopInstanceUID))\">"
                body += "<figcaption>\(e(caption))</figcaption></figure>"
            }
            body += "<div><strong>\(e(f.head))</strong> · \(e([f.modality, f.bodyPart, f.viewPosition, f.laterality].compactMap { $0 }.joined(separator: " ")))</div>"
            switch f.status {
            case "scored":
                body += "<div>probability <span class=\"probability\">\(String(format: "%.4f", f.probability ?? 0))</span>, calibrated \(String(format: "%.4f", f.calibratedProbability ?? 0))</div>"
                body += "<div>decision <span class=\"decision \(decidedIsPositive ? "pos" : "neg")\">\(e(f.decision ?? ""))</span> at threshold \(String(format: "%.2f", f.threshold ?? 0))</div>"
            default:
                body += "<div class=\"muted\">\(e(f.status)): \(e(f.reason ?? ""))</div>"
            }
            body += "<div class=\"muted\"><code>\(e(f.sopInstanceUID))</code></div></div>"
        }
        body += "</div>"

        let used = Set(s.findings.map(\.modelSha256))
        let cards = models.values.filter { used.contains($0.sha256) }.sorted { $0.head < $1.head }
        for m in cards {
            if let warning = m.card?.warning {
                body = body.replacingOccurrences(of: "<h2>Patient and study</h2>",
                                                 with: "<p class=\"warn model-warning\"><strong>\(e(m.head)):</strong> \(e(warning))</p><h2>Patient and study</h2>")
            }
        }
        if !cards.isEmpty {
            body += "<h2>Models</h2>"
            for m in cards {
                let c = m.card
                body += "<table class=\"model\"><tr><th>Head</th><td>\(e(m.head))</td></tr>"
                body += "<tr><th>Model</th><td>\(e(c?.name ?? "")) (\(e(c?.architecture ?? "")))</td></tr>"
                body += "<tr><th>Training data</th><td>\(e(c?.trainingData ?? "not stated"))</td></tr>"
                body += "<tr><th>Metrics</th><td>\(e(metrics(c?.metrics)))</td></tr>"
                body += "<tr><th>Intended use</th><td>\(e(c?.intendedUse ?? ""))</td></tr>"
                body += "<tr><th>Licence</th><td>\(e(c?.license ?? ""))</td></tr>"
                if let findings = c?.scoring?.findings, c?.isMultiLabel == true {
                    body += "<tr><th>Findings</th><td>\(MultiLabelSection.cardFindings(findings))</td></tr>"
                }
                if let aggregation = c?.scoring?.aggregation {
                    body += "<tr><th>Study rule</th><td>\(e(aggregation.description ?? aggregation.rule))</td></tr>"
                }
                body += "<tr><th>Weights sha256</th><td><code>\(e(m.sha256))</code></td></tr></table>"
            }
        }
        if let run {
            body += "<h2>Provenance</h2><p class=\"muted\">dxkit \(e(run.version)), run \(run.id) started \(e(run.startedAt)), finished \(e(run.finishedAt ?? "—"))</p>"
        }
        return HTML.page(title: "dxkit report — \(s.studyInstanceUID)", body: body)
    }

    /// Key of a finding's heatmap ("decided" or "positive") in the page's image table.
    static func imageKey(_ f: StudyReport.Finding, _ kind: String) -> String {
        f.sopInstanceUID + "|" + f.head + (f.finding.isEmpty ? "" : "|" + f.finding) + "|" + kind
    }

    /// The positive class a head's card names (nil when unknown).
    static func positiveClass(head: String, models: [String: ModelSummary]) -> String? {
        models.values.first { $0.head == head && $0.rule != nil }?.rule?.positive
    }

    static func metrics(_ metrics: [String: ModelCard.MetricValue]?) -> String {
        guard let metrics, !metrics.isEmpty else { return "none stated" }
        return metrics.keys.sorted().map { "\($0): \(metrics[$0]!)" }.joined(separator: "; ")
    }

    /// `result.json`: the study UID and, per result, the instance, its file, the head and the numbers.
    static func json(_ s: StudyReport) throws -> Data {
        let results: [[String: Any]] = s.findings.map { f in
            var r: [String: Any] = ["sop_instance_uid": f.sopInstanceUID, "source_path": f.path, "head": f.head, "status": f.status]
            r["probability"] = f.probability ?? NSNull()
            r["calibrated_probability"] = f.calibratedProbability ?? NSNull()
            r["decision"] = f.decision ?? NSNull()
            if let reason = f.reason { r["reason"] = reason }
            if !f.finding.isEmpty {
                r["finding"] = f.finding
                r["threshold"] = f.threshold ?? NSNull()
            }
            return r
        }
        let study: [[String: Any]] = s.aggregates.map { a in
            var r: [String: Any] = ["head": a.head, "probability": a.probability, "calibrated_probability": a.calibratedProbability,
                                    "decision": a.decision, "rule": a.rule, "instances": a.instances]
            if !a.finding.isEmpty {
                r["finding"] = a.finding
                r["threshold"] = MultiLabelSection.threshold(of: a, in: s.findings) ?? NSNull()
            }
            return r
        }
        let object: [String: Any] = ["study_instance_uid": s.studyInstanceUID, "results": results, "study_results": study]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
