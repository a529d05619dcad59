import ArgumentParser
import Evaluation
import Foundation
import Models
import Pipeline
import Store

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subgroup performance and disparities of a head on labelled studies, grouped by DICOM attributes; stored in the index.",
        discussion: "Attributes: sex, age_band, manufacturer, model, institution, station, view_position, laterality, modality, body_part. `dxkit report --audit ID --out DIR` renders a stored audit.")

    @OptionGroup var index: IndexOption
    @Option(help: "Labels CSV (key column, label; a multi-label head's also a finding column).") var labels: String
    @Option(help: "Head name.") var head: String
    @Option(help: "Comma-separated attributes.") var by = "sex,age_band"
    @Option(help: "Age band edges in years.") var ageBands = "18,40,65"
    @Option(help: "Reference group value (default: the largest group).") var reference: String?
    @Flag(help: "Also audit pairs of attributes.") var intersections = false
    @Option(help: "Groups smaller than this are reported, not judged.") var minSize = 30
    @Option(help: "Bootstrap replicates.") var bootstrap = 500
    @Option(help: "Ratios to the reference judged fair, as LOW,HIGH.") var fairRange = "0.8,1.25"
    @OptionGroup var models: ModelOptions
    @Flag(help: "Print the audit as JSON (a multi-label head: a list, one audit per finding).") var json = false
    @Option(help: "Multi-label heads: audit this finding only (default: every finding the labels file labels).")
    var finding: String?

    func run() throws {
        do {
            var installed = try InstalledHeads.load(search: models.search(), only: [head])[0]
            var audit = SubgroupAudit()
            audit.attributes = by.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            audit.ageBands = ageBands.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            audit.reference = reference
            audit.intersections = intersections
            audit.minimumSize = minSize
            let database = try IndexDatabase(path: index.db, mustExist: true)
            try installed.applyStoredCalibration(ResultStore(database: database))
            audit.bootstrap = Bootstrap(replicates: bootstrap)
            let range = fairRange.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard range.count == 2, range[0] > 0, range[0] < range[1] else { throw ValidationError("--fair-range takes LOW,HIGH, e.g. 0.8,1.25") }
            audit.fairRange = (range[0], range[1])
            let file = try LabelsFile(path: labels)
            guard installed.isMultiLabel else {
                if finding != nil { throw ValidationError("--finding is for multi-label heads; \(head) is single-label") }
                try file.checkSingleLabel(head: head)
                audit.threshold = installed.rule.threshold
                let (id, results) = try AuditJob(database: database).run(
                    labels: file, head: head, modelSha256: installed.sha256,
                    classes: installed.card.classes ?? [], audit: audit)
                if json {
                    print(try JSONOutput.string(StoredAudit(auditID: id, results: results)))
                    return
                }
                show(id, results, subject: head)
                return
            }
            // A multi-label head: one stored audit per finding, at that finding's (calibrated) threshold.
            let names = installed.findings.map(\.name)
            if let finding, !names.contains(finding) {
                throw ValidationError("--finding \(finding) is not one of \(head)'s findings (\(names.joined(separator: ", ")))")
            }
            var targets = finding.map { [$0] } ?? file.labelledFindings(in: names)
            if targets.isEmpty { targets = [names[0]] }  // forFinding then says what is wrong with the file
            var stored: [FindingAudit] = []
            for name in targets {
                let selected = try file.forFinding(name, head: head, findings: names)
                audit.threshold = installed.findings.first { $0.name == name }!.rule.threshold
                let (id, results) = try AuditJob(database: database).run(
                    labels: selected, head: head, modelSha256: installed.sha256, finding: name,
                    classes: [FindingRule.absent, FindingRule.present], audit: audit)
                if json {
                    stored.append(FindingAudit(auditID: id, finding: name, results: results))
                } else {
                    show(id, results, subject: "\(head) · \(name)")
                }
            }
            if json { print(try JSONOutput.string(stored)) }
        } catch {
            printError("dxkit audit: \(error)")
            throw ExitCode(2)
        }
    }

    func show(_ id: Int64, _ results: SubgroupAuditResult, subject: String) {
        printSafe("audit \(id) of \(subject) on \(results.n) labelled results (stored; `dxkit report --audit \(id) --out DIR` renders it)")
        for (dimension, d) in results.by.sorted(by: { $0.key < $1.key }) {
            printSafe("\n\(dimension) (reference \(d.reference)):")
            for (g, m) in d.groups.sorted(by: { $0.key < $1.key }) {
                func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "—" }
                printSafe("  \(g.padding(toLength: 28, withPad: " ", startingAt: 0)) n \(m.n)  AUROC \(f(m.auroc))  TPR \(f(m.tpr))  FPR \(f(m.fpr))  PPV \(f(m.ppv))  ECE \(f(m.ece))")
            }
            for (g, metrics) in d.disparities.sorted(by: { $0.key < $1.key }) {
                let verdicts = Self.judged.compactMap { k in (metrics[k] ?? nil).map { "\(k) \($0.verdict)" } }
                printSafe("  vs reference, \(g): " + verdicts.joined(separator: ", "))
            }
        }
    }

    static let judged = ["tpr", "fpr", "fnr", "ppv", "selection_rate"]
}

/// One finding's stored audit of a multi-label head, as `audit --json` prints it (a list of them).
struct FindingAudit: Encodable {
    var auditID: Int64
    var finding: String
    var results: SubgroupAuditResult
    enum CodingKeys: String, CodingKey { case auditID = "audit_id", finding, results }
}
