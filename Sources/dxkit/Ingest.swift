import ArgumentParser
import Foundation
import Store

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Index DICOM files (folders recursively, DICOMDIRs followed) into SQLite.",
        discussion: "Exit status: 0 when every file was indexed, 1 when some files are recorded as errors, 2 on a fatal error.")

    @Argument(help: "Files or folders to ingest.")
    var paths: [String]

    @Option(help: "SQLite index to create or update.")
    var db = "dxkit.sqlite"

    @Option(help: "Parsing threads.")
    var jobs = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "List each failed file with its reason.")
    var verbose = false

    func run() throws {
        let database: IndexDatabase
        do { database = try IndexDatabase(path: db) } catch { printError("dxkit ingest: \(error)"); throw ExitCode(2) }
        let bar = ProgressBar(label: "ingest")
        let summary: IngestSummary
        do {
            summary = try Ingestor(database: database, jobs: jobs).run(paths: paths) { s, total in
                bar.update(done: s.processed, total: total, rate: s.rate, detail: s.failed > 0 ? "\(s.failed) failed" : "")
            }
        } catch {
            bar.finish()
            printError("dxkit ingest: \(error)")
            throw ExitCode(2)
        }
        bar.finish()
        print(String(format: "%d files seen: %d ingested, %d unchanged, %d skipped (not DICOM), %d failed%@; %d duplicate SOP Instance UIDs, %d DICOMDIRs; %.1f files/s",
                     summary.seen, summary.ingested, summary.unchanged, summary.skipped, summary.failed,
                     summary.stillFailing > 0 ? " (+\(summary.stillFailing) failing as before)" : "",
                     summary.duplicates, summary.dicomdirs, summary.rate))
        if !summary.failures.isEmpty {
            let failures = summary.failures.sorted { $0.path < $1.path }
            let shown = verbose ? failures : Array(failures.prefix(10))
            for f in shown { printError("error: \(f.path): \(f.reason)") }
            if shown.count < failures.count { printError("… \(failures.count - shown.count) more (--verbose lists all)") }
            throw ExitCode(1)
        }
    }
}
