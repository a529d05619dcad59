import ArgumentParser
import Evaluation
import Foundation
import Pipeline
import Store

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subgroup performance and disparities of a head on labelled studies, grouped by DICOM attributes; stored in the index.",
        discussion: "Attributes: sex, age_band, manufacturer, model, institution, station, view_position, laterality, modality, body_part. `dxkit report --audit ID --out DIR` renders a stored audit.")

    @OptionGroup var index: IndexOption
    @Option(help: "Labels CSV (key column, label).") var labels: String
    @Option(help: "Head name.") var head: String
    @Option(help: "Comma-separated attributes.") var by = "sex,age_band"
    @Option(help: "Age band edges in years.") var ageBands = "18,40,65"
    @Option(help: "Reference group value (default: the largest group).") var reference: String?
    @Flag(help: "Also audit pairs of attributes.") var intersections = false
    @Option(help: "Groups smaller than this are reported, not judged.") var minSize = 30
    @Option(help: "Bootstrap replicates.") var bootstrap = 500
    @Option(help: "Ratios to the reference judged fair, as LOW,HIGH.") var fairRange = "0.8,1.25"
    @OptionGroup var models: ModelOptions
    @Flag(help: "Print the audit as JSON.") var json = false

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
            audit.threshold = installed.rule.threshold
            audit.bootstrap = Bootstrap(replicates: bootstrap)
            let range = fairRange.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard range.count == 2, range[0] > 0, range[0] < range[1] else { throw ValidationError("--fair-range takes LOW,HIGH, e.g. 0.8,1.25") }
            audit.fairRange = (range[0], range[1])
            let (id, results) = try AuditJob(database: database).run(
                labels: LabelsFile(path: labels), head: head, modelSha256: installed.sha256,
                classes: installed.card.classes ?? [], audit: audit)
            if json {
                print(try JSONOutput.string(StoredAudit(auditID: id, results: results)))
                return
            }
            print("audit \(id) of \(head) on \(results.n) labelled results (stored; `dxkit report --audit \(id) --out DIR` renders it)")
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
        } catch {
            printError("dxkit audit: \(error)")
            throw ExitCode(2)
        }
    }

    static let judged = ["tpr", "fpr", "fnr", "ppv", "selection_rate"]
}
