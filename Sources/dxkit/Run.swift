import ArgumentParser
import DICOM
import Foundation
import Pipeline
import Store

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The main job: ingest PATHs, score them, and write the reports.",
        discussion: "Exit status 1 when some files or instances failed (the rest is still done), 2 on a fatal error.")

    @Argument(help: "DICOM files or folders.") var paths: [String]
    @Option(help: "Output folder for the reports.") var out = "reports"
    @Option(help: "SQLite index (default: <out>/dxkit.sqlite).") var db: String?
    @Option(help: "Threads.") var jobs = 2
    @OptionGroup var models: ModelOptions
    @OptionGroup var decode: DecodeLimitOptions
    @OptionGroup var sharding: ShardOption
    @Flag(help: "List each failed or skipped file with its reason.") var verbose = false

    func run() throws {
        let database = db ?? "\(out)/dxkit.sqlite"
        // Models first: a run that cannot score must not ingest and report as if it had.
        do { _ = try InstalledHeads.load(search: models.search(), only: nil) } catch {
            printError("dxkit run: \(error)")
            throw ExitCode(2)
        }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            printError("dxkit run: cannot create \(out): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        // One writer: the lock is held from ingest to report (ingest and score share it).
        let lock: DatabaseLock
        do { lock = try DatabaseLock.acquire(database: database) } catch {
            printError("dxkit run: \(error)")
            throw ExitCode(2)
        }
        defer { lock.release() }
        var failed = try Ingest.ingest(paths: paths, db: database, jobs: jobs, limits: decode.limits, verbose: verbose,
                                       shard: sharding.shard)
        let summary = try Score.score(db: database, heads: nil, jobs: jobs, batch: 16, models: models,
                                      heatmaps: "\(out)/heatmaps", limits: decode.limits, shard: sharding.shard)
        failed = failed || summary.errors > 0
        failed = try Report.write(db: database, out: out) || failed
        if failed { throw ExitCode(1) }
    }
}
