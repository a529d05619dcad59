import ArgumentParser
import Evaluation
import Foundation
import Store
import DICOM

struct AuditDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit-dataset",
        abstract: "Composition, missingness, label prevalence per group and split shift of the indexed images or of a manifest.",
        discussion: "--manifest audits a CSV of metadata without images; --map names its columns, e.g. sex=Gender,age=Age,label=Finding,split=Split.")

    @Option(help: "SQLite index.") var db = "dxkit.sqlite"
    @Option(help: "Labels CSV for the indexed images (key, label, optional split).") var labels: String?
    @Option(help: "A metadata CSV to audit instead of the index.") var manifest: String?
    @Option(help: "Manifest columns: sex=,age=,view_position=,manufacturer=,institution=,modality=,label=,split=") var map = ""
    @Option(help: "Age band edges in years.") var ageBands = "18,40,65"
    @Flag(help: "Print the audit as JSON.") var json = false

    func run() throws {
        do {
            let database = try IndexDatabase(path: db, mustExist: true)
            var audit = DatasetAudit()
            audit.ageBands = ageBands.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            var records: [DatasetAudit.Record]
            var labelsHash = ""
            if let manifest {
                let mapping = Dictionary(uniqueKeysWithValues: map.split(separator: ",").compactMap { pair -> (String, String)? in
                    let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    return kv.count == 2 ? (kv[0], kv[1]) : nil
                })
                records = try DatasetAudit.manifest(manifest, mapping: mapping)
                labelsHash = try ContentHash.sha256(file: manifest)
            } else {
                var labelOf: [Int64: Int] = [:], splitOf: [Int64: String] = [:]
                if let labels {
                    let file = try LabelsFile(path: labels)
                    labelsHash = file.sha256
                    labelOf = try LabelledInstances.resolve(file, database: database, classes: ["0", "1"])
                    let found = try database.instances(matching: file.rows.map(\.key), column: file.keyKind.rawValue)
                    for row in file.rows { if let s = row.split { for i in found[row.key] ?? [] { splitOf[i.instanceID] = s } } }
                }
                records = try database.datasetAttributes().map { id, a in
                    DatasetAudit.Record(attributes: a, label: labelOf[id], split: splitOf[id])
                }
            }
            let results = audit.run(records)
            let parameters: [String: Any] = ["source": manifest ?? db, "labels": labels ?? NSNull(), "age_bands": audit.ageBands]
            func encode(_ o: Any) throws -> String { String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self) }
            let id = try ResultStore(database: database).saveAudit(kind: "dataset", head: "", modelSha256: "", labelsSha256: labelsHash,
                                                                   parametersJSON: try encode(parameters), resultsJSON: try encode(results))
            if json {
                print(try encode(["audit_id": id, "results": results]))
            } else {
                print("dataset audit \(id): \(records.count) records (stored; `dxkit report --audit \(id) --out DIR` renders it)")
                for (attribute, share) in (results["missingness"] as? [String: Double] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    printSafe(String(format: "  %-14@ missing %5.1f%%", attribute as NSString, 100 * share))
                }
            }
        } catch {
            printError("dxkit audit-dataset: \(error)")
            throw ExitCode(2)
        }
    }
}
