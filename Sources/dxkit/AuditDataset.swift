import ArgumentParser
import Evaluation
import Foundation
import Pipeline
import Store

struct AuditDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-dataset",
        abstract: "Composition, missingness, label prevalence per group and split shift of the indexed images or of a manifest.",
        discussion: "--manifest audits a CSV of metadata without images; --map names its columns, e.g. sex=Gender,age=Age,label=Finding,split=Split.")

    @OptionGroup var index: IndexOption
    @Option(help: "Labels CSV for the indexed images (key, label, optional split).") var labels: String?
    @Option(help: "A metadata CSV to audit instead of the index.") var manifest: String?
    @Option(help: "Manifest columns: sex=,age=,view_position=,manufacturer=,institution=,modality=,label=,split=") var map = ""
    @Option(help: "Age band edges in years.") var ageBands = "18,40,65"
    @Flag(help: "Print the audit as JSON.") var json = false

    func run() throws {
        do {
            let database = try IndexDatabase(path: index.db, mustExist: true)
            let source: DatasetAuditJob.Source
            if let manifest {
                let mapping = Dictionary(uniqueKeysWithValues: map.split(separator: ",").compactMap { pair -> (String, String)? in
                    let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    return kv.count == 2 ? (kv[0], kv[1]) : nil
                })
                source = .manifest(path: manifest, mapping: mapping)
            } else {
                source = .index(labels: try labels.map(LabelsFile.init(path:)))
            }
            let bands = ageBands.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            let (id, records, results) = try DatasetAuditJob(database: database).run(source, ageBands: bands)
            if json {
                print(try JSONOutput.string(StoredAudit(auditID: id, results: results)))
            } else {
                print("dataset audit \(id): \(records) records (stored; `dxkit report --audit \(id) --out DIR` renders it)")
                for (attribute, share) in results.missingness.sorted(by: { $0.key < $1.key }) {
                    printSafe(String(format: "  %-14@ missing %5.1f%%", attribute as NSString, 100 * share))
                }
            }
        } catch {
            printError("dxkit audit-dataset: \(error)")
            throw ExitCode(2)
        }
    }
}
