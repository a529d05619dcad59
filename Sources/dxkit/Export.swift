import ArgumentParser
import Foundation
import Pipeline
import Reports
import Store

extension ExportKind: ExpressibleByArgument {}
extension TableWriter.Format: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export results, study results, audits or calibrations as CSV or JSON Lines, for analysis elsewhere.",
        discussion: """
            results: one row per result with its instance's patient, study and series identifiers, head, model name and \
            weights sha256, status, probabilities, decision, threshold, heatmap paths, dxkit version and times. CSV text \
            that a spreadsheet would run as a formula is prefixed with a quote.
            """)

    @OptionGroup var index: IndexOption
    @Option(help: "What to export: \(ExportKind.allCases.map(\.rawValue).joined(separator: ", ")).") var what = ExportKind.results
    @Option(help: "csv or jsonl.") var format = TableWriter.Format.csv
    @Option(help: "Output file (default: standard output).") var out: String?

    func run() throws {
        do {
            let database = try IndexDatabase(path: index.db, mustExist: true)
            let handle: FileHandle
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil) else {
                    throw StoreError(file: out, reason: "cannot create the file")
                }
                handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
            } else {
                handle = FileHandle.standardOutput
            }
            let rows = try ExportJob(database: database).run(what, format: format, to: handle)
            if let out {
                try handle.close()
                print("exported \(rows) \(what.rawValue) rows to \(out)")
            }
        } catch {
            printError("dxkit export: \(error)")
            throw ExitCode(2)
        }
    }
}
