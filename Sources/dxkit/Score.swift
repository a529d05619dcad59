import ArgumentParser
import DICOM
import Foundation
import Models
import Pipeline
import Store

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score every ingested instance a head accepts and that has no result for its current model.",
        discussion: """
            Resumable: re-running scores nothing twice. Each file is checked against the content indexed for it \
            and re-ingested first if it changed. One writer per database: a second score or run is refused. \
            Exit status 1 when some instances failed, 2 on a fatal error.
            """)

    @Option(help: "SQLite index (must exist: see dxkit ingest).") var db = "dxkit.sqlite"
    @Option(help: "Comma-separated heads (default: every installed head).") var heads: String?
    @Option(help: "Decoding threads.") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Images per inference batch.") var batch = 16
    @OptionGroup var models: ModelOptions
    @Option(help: "Folder for heatmap overlays (default: <db>.heatmaps).") var heatmaps: String?
    @OptionGroup var decode: DecodeLimitOptions
    @OptionGroup var sharding: ShardOption

    func run() throws {
        let summary = try Self.score(db: db, heads: heads, jobs: jobs, batch: batch, models: models,
                                     heatmaps: heatmaps ?? db + ".heatmaps", limits: decode.limits, shard: sharding.shard)
        if summary.errors > 0 { throw ExitCode(1) }
    }

    static func score(db: String, heads: String?, jobs: Int, batch: Int, models: ModelOptions, heatmaps: String,
                      limits: DecodeLimits, shard: Shard? = nil) throws -> ScoringSummary {
        let database: IndexDatabase
        let installed: [ScoreJob.Head]
        do {
            installed = try InstalledHeads.load(search: models.search(), only: heads?.split(separator: ",").map(String.init))
            database = try IndexDatabase(path: db, mustExist: true)
        } catch {
            printError("dxkit score: \(error)")
            throw ExitCode(2)
        }
        var options = ScoreJob.Options()
        options.jobs = jobs
        options.batchSize = batch
        options.heatmapDirectory = heatmaps
        options.version = DXKit.version
        options.limits = limits
        options.shard = shard
        let bar = ProgressBar(label: "score")
        let summary: ScoringSummary
        do {
            summary = try ScoreJob(database: database, heads: installed, options: options).run { done, total, s in
                bar.update(done: done, total: total, rate: s.rate, detail: s.errors > 0 ? "\(s.errors) failed" : "")
            }
        } catch {
            bar.finish()
            printError("dxkit score: \(error)")
            throw ExitCode(2)
        }
        bar.finish()
        print(String(format: "%d candidates: %d scored, %d not applicable, %d failed, %d already scored; %.1f images/s (heads: %@)",
                     summary.candidates, summary.scored, summary.notApplicable, summary.errors, summary.alreadyDone,
                     summary.rate, installed.map(\.name).joined(separator: ", ")))
        if summary.reingested > 0 {
            printError("warning: \(summary.reingested) file(s) changed since they were indexed: re-ingested and scored as they are now")
        }
        if summary.quarantined > 0 {
            printError("warning: \(summary.quarantined) file(s) crashed dxkit in an earlier run: recorded as errors, not read again")
        }
        if summary.withoutStudy > 0 {
            printError("warning: \(summary.withoutStudy) instance(s) have no Study Instance UID: recorded as errors, not scored")
        }
        return summary
    }
}
