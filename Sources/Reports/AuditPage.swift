import Evaluation
import Foundation
import Imaging
import Store

/// A stored audit as HTML: per attribute, each metric per group as a bar with its bootstrap
/// interval (inline SVG), the disparity table with verdicts, and the parity differences; or a
/// dataset audit's composition, missingness, prevalence and split shift.
public enum AuditPage {
    /// Renders stored audit `id` of `database` into `directory`; returns the page's path.
    public static func write(database: IndexDatabase, audit id: Int64, to directory: String) throws -> String {
        guard let audit = try ResultStore(database: database).audit(id) else {
            throw StoreError(file: database.path, reason: "no audit \(id)")
        }
        let data = Data(audit.results.utf8)
        if audit.kind == "dataset" {
            let results = try JSONDecoder().decode(DatasetAuditResult.self, from: data)
            return try write(html: dataset(id, results: results, created: audit.created), id: id, to: directory)
        }
        let results = try JSONDecoder().decode(SubgroupAuditResult.self, from: data)
        let subject = audit.finding.isEmpty ? audit.head : "\(audit.head) · \(audit.finding)"
        return try write(html: subgroup(id, head: subject, results: results, created: audit.created), id: id, to: directory)
    }

    /// `head`: the head, with the finding audited for a multi-label head ("chest · Pneumonia").
    static func subgroup(_ id: Int64, head: String, results: SubgroupAuditResult, created: String) -> String {
        let e = HTML.escape
        var body = "<h1>dxkit audit \(id): \(e(head))</h1><p class=\"muted\">\(e(created)); \(results.n) labelled results; threshold \(results.threshold); groups under \(results.minimumSize) are reported, not judged.</p>"
        body += "<p class=\"warn\"><strong>Research use only.</strong> Small groups give wide intervals; read them before the verdicts.</p>"
        for (dimension, d) in results.by.sorted(by: { $0.key < $1.key }) {
            body += "<h2>\(e(dimension))</h2><p>reference group: <strong>\(e(d.reference))</strong>; "
            body += String(format: "demographic parity difference %.3f, equalized odds difference %.3f</p>",
                           d.demographicParityDifference, d.equalizedOddsDifference)
            body += "<div class=\"grid\">"
            for metric in ["auroc", "tpr", "fpr", "ppv", "selection_rate", "ece"] {
                body += "<div class=\"card\"><div><strong>\(e(metric))</strong></div>" + chart(d.groups, metric: metric) + "</div>"
            }
            body += "<div class=\"card\">" + curves(d.groups, roc: true, x: "false positive rate", y: "true positive rate") + "</div>"
            body += "<div class=\"card\">" + curves(d.groups, roc: false, x: "mean predicted probability", y: "observed rate") + "</div>"
            body += "</div><table class=\"sortable\"><thead><tr><th>group</th><th>metric</th><th>value</th><th>reference</th><th>difference</th><th>ratio</th><th>verdict</th></tr></thead><tbody>"
            for (g, metrics) in d.disparities.sorted(by: { $0.key < $1.key }) {
                for (metric, entry) in metrics.sorted(by: { $0.key < $1.key }) {
                    guard let m = entry else { continue }
                    func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "—" }
                    body += "<tr><td>\(e(g))</td><td>\(e(metric))</td><td>\(f(m.value))</td><td>\(f(m.reference))</td><td>\(f(m.difference))</td><td>\(f(m.ratio))</td><td>\(e(m.verdict))</td></tr>"
                }
            }
            body += "</tbody></table>"
        }
        return body + HTML.sortScript
    }

    static func write(html body: String, id: Int64, to directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/audit-\(id).html"
        try HTML.page(title: "dxkit audit \(id)", body: body).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A dataset audit: composition and missingness per attribute, prevalence per group, split shift.
    static func dataset(_ id: Int64, results: DatasetAuditResult, created: String) -> String {
        let e = HTML.escape
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "—" }
        var body = "<h1>dxkit dataset audit \(id)</h1><p class=\"muted\">\(e(created)); \(results.n) records</p>"
        for attribute in results.composition.keys.sorted() {
            body += "<h2>\(e(attribute))</h2><p>missing: \(String(format: "%.1f%%", 100 * (results.missingness[attribute] ?? 0)))"
            if let s = results.splitShift[attribute] {
                body += "; shift between splits: χ² \(f(s.statistic)), p \(f(s.pValue))"
            }
            if let test = results.labelPrevalence[attribute]?.chiSquare {
                body += "; label × group: χ² \(f(test.statistic)), dof \(test.dof), p \(f(test.pValue))"
            }
            body += "</p><table class=\"sortable\"><thead><tr><th>group</th><th>n</th><th>share</th><th>prevalence</th><th>95% CI</th></tr></thead><tbody>"
            let groups = results.labelPrevalence[attribute]?.groups ?? [:]
            for (g, c) in results.composition[attribute]!.sorted(by: { $0.key < $1.key }) {
                let p = groups[g]
                let ci = p?.ci.map { String(format: "%.3f–%.3f", $0[0], $0[1]) } ?? "—"
                body += "<tr><td>\(e(g))</td><td>\(c.n)</td><td>\(f(c.share))</td><td>\(f(p?.prevalence))</td><td>\(ci)</td></tr>"
            }
            body += "</tbody></table>"
        }
        return body + HTML.sortScript
    }

    /// "sex=F & age_band=40-65" → "F & 40-65": the attribute names are in the section heading.
    static func shortName(_ group: String) -> String {
        group.components(separatedBy: " & ").map { $0.split(separator: "=", maxSplits: 1).last.map(String.init) ?? $0 }
            .joined(separator: " & ")
    }

    /// One curve per group with axes, ticks, labels and a legend: ROC points, or reliability bins.
    static func curves(_ groups: [String: SubgroupAuditResult.Group], roc: Bool, x: String, y: String) -> String {
        let series: [Chart.Series] = groups.keys.sorted().map { g in
            let group = groups[g]!
            let name = "\(String(shortName(g).prefix(18))) (n \(group.n))"
            if roc { return Chart.Series(name: name, points: (group.roc ?? []).map { ($0[0], $0[1]) }) }
            return Chart.Series(name: name, points: group.reliability.map { ($0.meanScore, $0.observed) }, markers: true)
        }
        return Chart(title: roc ? "ROC per group" : "reliability per group", xLabel: x, yLabel: y, series: series,
                     diagonal: roc ? "chance" : "perfect calibration", legendCorner: roc ? .bottomRight : .topLeft).svg(width: 320, height: 280)
    }

    /// Horizontal bars (value) with whiskers (95% interval) per group, on a 0–1 axis.
    static func chart(_ groups: [String: SubgroupAuditResult.Group], metric: String) -> String {
        let names = groups.keys.sorted()
        let rowHeight = 22, width = 170, label = 115
        var svg = "<svg style=\"display:block\" width=\"\(width + label + 10)\" height=\"\(names.count * rowHeight + 10)\" role=\"img\">"
        for (i, g) in names.enumerated() {
            let y = 5 + i * rowHeight
            let m = groups[g]!
            let short = shortName(g)
            svg += "<text x=\"0\" y=\"\(y + 14)\" font-size=\"11\"><title>\(HTML.escape(g))</title>\(HTML.escape(String(short.prefix(13)))) (n \(m.n))</text>"
            if let v = value(m, metric) {
                svg += "<rect x=\"\(label)\" y=\"\(y + 4)\" width=\"\(Int(v * Double(width)))\" height=\"12\" fill=\"#5b8def\"/>"
                if let ci = m.ci[metric], ci.count == 2 {
                    let a = label + Int(ci[0] * Double(width)), b = label + Int(ci[1] * Double(width))
                    svg += "<line x1=\"\(a)\" x2=\"\(b)\" y1=\"\(y + 10)\" y2=\"\(y + 10)\" stroke=\"#1d2330\" stroke-width=\"2\"/>"
                }
                svg += "<text x=\"\(label + Int(v * Double(width)) + 4)\" y=\"\(y + 14)\" font-size=\"10\">\(String(format: "%.2f", v))</text>"
            } else {
                svg += "<text x=\"\(label)\" y=\"\(y + 14)\" font-size=\"10\" fill=\"#667085\">undefined</text>"
            }
        }
        return svg + "</svg>"
    }

    /// A group's value of `metric` (auroc, tpr, fpr, ppv, selection_rate, ece).
    static func value(_ g: SubgroupAuditResult.Group, _ metric: String) -> Double? {
        switch metric {
        case "auroc": return g.auroc
        case "tpr": return g.tpr
        case "fpr": return g.fpr
        case "ppv": return g.ppv
        case "selection_rate": return g.selectionRate
        default: return g.ece
        }
    }
}
