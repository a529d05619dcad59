import ArgumentParser
import Pipeline
import DICOM
import Foundation
import Store

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Index DICOM files (folders recursively, DICOMDIRs followed) into SQLite.",
        discussion: """
            Symbolic links are followed (loops are cut and counted); only regular files are read; DICOMDIR \
            references outside the DICOMDIR's folder are refused. Exit status: 0 when every file was indexed, \
            1 when some files are recorded as errors, 2 on a fatal error.
            """)

    @Argument(help: "Files or folders to ingest.")
    var paths: [String]

    @Option(help: "SQLite index to create or update.")
    var db = "dxkit.sqlite"

    @Option(help: "Parsing threads.")
    var jobs = ProcessInfo.processInfo.activeProcessorCount

    @OptionGroup var decode: DecodeLimitOptions
    @OptionGroup var sharding: ShardOption

    @Flag(help: "List each failed or skipped file with its reason.")
    var verbose = false

    func run() throws {
        let failed = try Self.ingest(paths: paths, db: db, jobs: jobs, limits: decode.limits, verbose: verbose, shard: sharding.shard)
        if failed { throw ExitCode(1) }
    }

    /// Ingests `paths` into `db` holding its writer lock, prints the summary and warnings; returns
    /// whether some files are errors. Fatal problems print and exit 2.
    static func ingest(paths: [String], db: String, jobs: Int, limits: DecodeLimits, verbose: Bool, shard: Shard? = nil) throws -> Bool {
        let database: IndexDatabase
        let lock: DatabaseLock
        do {
            lock = try DatabaseLock.acquire(database: db)
            database = try IndexDatabase(path: db)
        } catch {
            printError("dxkit ingest: \(error)")
            throw ExitCode(2)
        }
        defer { lock.release() }
        let bar = ProgressBar(label: "ingest")
        let summary: IngestSummary
        do {
            let ingestor = IngestJob(database: database, jobs: jobs)
            ingestor.limits = limits
            ingestor.shard = shard
            summary = try ingestor.run(paths: paths) { s, total in
                bar.update(done: s.processed, total: total, rate: s.rate, detail: s.failed > 0 ? "\(s.failed) failed" : "")
            }
        } catch {
            bar.finish()
            printError("dxkit ingest: \(error)")
            throw ExitCode(2)
        }
        bar.finish()
        print(String(format: "%d files seen: %d ingested, %d unchanged, %d skipped, %d failed%@; %d duplicate SOP Instance UIDs, %d DICOMDIRs, %d symbolic links followed; %.1f files/s",
                     summary.seen, summary.ingested, summary.unchanged, summary.skipped, summary.failed,
                     summary.stillFailing > 0 ? " (+\(summary.stillFailing) failing as before)" : "",
                     summary.duplicates, summary.dicomdirs, summary.symlinksFollowed, summary.rate))
        if let shard { print("shard \(shard): \(summary.otherShards) file(s) belong to other shards (not stored)") }
        report(summary, verbose: verbose)
        return !summary.failures.isEmpty
    }

    /// Warnings and the lists of failed and skipped files (ten of each unless `verbose`).
    static func report(_ summary: IngestSummary, verbose: Bool) {
        if summary.quarantined > 0 {
            printError("warning: \(summary.quarantined) file(s) crashed dxkit in an earlier run and are recorded as errors without being read")
        }
        for c in summary.conflicts {
            printError("warning: study \(c.study) holds instances of more than one patient (\(c.patients)): it is scored and reported per patient, never merged")
        }
        if summary.withoutStudy > 0 {
            printError("warning: \(summary.withoutStudy) instance(s) have no Study Instance UID: they are indexed but cannot be scored into a study report")
        }
        if summary.withoutPixels > 0 {
            print("note: \(summary.withoutPixels) indexed instance(s) hold no pixel data (not images): nothing to score")
        }
        func list(_ items: [(path: String, reason: String)], _ label: String) {
            let sorted = items.sorted { $0.path < $1.path }
            let shown = verbose ? sorted : Array(sorted.prefix(10))
            for f in shown { printError("\(label): \(f.path): \(f.reason)") }
            if shown.count < sorted.count { printError("… \(sorted.count - shown.count) more \(label == "error" ? "errors" : "skipped") (--verbose lists all)") }
        }
        let notDicomByName = summary.skips.filter { $0.reason.hasPrefix("not DICOM") }
        list(summary.skips.filter { !$0.reason.hasPrefix("not DICOM") }, "skipped")
        if verbose { list(notDicomByName, "skipped") }
        list(summary.failures, "error")
    }
}
