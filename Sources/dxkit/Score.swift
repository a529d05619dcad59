import ArgumentParser
import Foundation
import Models
import Scoring
import Store

/// Loads the installed task heads (model folders whose card names a head).
enum InstalledHeads {
    static func load(modelsDir: String, only: [String]?) throws -> [Scorer.Head] {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: modelsDir))?.sorted() ?? []
        var heads: [Scorer.Head] = []
        for folder in folders where FileManager.default.fileExists(atPath: "\(modelsDir)/\(folder)/model.json") {
            guard let card = try? ModelCard.load("\(modelsDir)/\(folder)/model.json"), let head = card.head, card.scoring != nil else { continue }
            if let only, !only.contains(head) { continue }
            heads.append(try Scorer.Head(directory: "\(modelsDir)/\(folder)"))
        }
        for wanted in only ?? [] where !heads.contains(where: { $0.name == wanted }) {
            throw ValidationError("no installed model for head '\(wanted)' in \(modelsDir) (installed: \(heads.map(\.name).joined(separator: ", ")))")
        }
        return heads
    }
}

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score every ingested instance a head accepts and that has no result for its current model.",
        discussion: "Resumable: re-running scores nothing twice. Exit status 1 when some instances failed.")

    @Option(help: "SQLite index.") var db = "dxkit.sqlite"
    @Option(help: "Comma-separated heads (default: every installed head).") var heads: String?
    @Option(help: "Decoding threads.") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Images per inference batch.") var batch = 16
    @Option(help: "Folder holding the converted models.") var modelsDir = "models"
    @Option(help: "Folder for heatmap overlays (default: <db>.heatmaps).") var heatmaps: String?

    func run() throws {
        let summary = try Self.score(db: db, heads: heads, jobs: jobs, batch: batch, modelsDir: modelsDir,
                                     heatmaps: heatmaps ?? db + ".heatmaps")
        if summary.errors > 0 { throw ExitCode(1) }
    }

    static func score(db: String, heads: String?, jobs: Int, batch: Int, modelsDir: String, heatmaps: String) throws -> ScoringSummary {
        let database: IndexDatabase
        let installed: [Scorer.Head]
        do {
            database = try IndexDatabase(path: db)
            installed = try InstalledHeads.load(modelsDir: modelsDir, only: heads?.split(separator: ",").map(String.init))
        } catch {
            printError("dxkit score: \(error)")
            throw ExitCode(2)
        }
        var options = Scorer.Options()
        options.jobs = jobs
        options.batchSize = batch
        options.heatmapDirectory = heatmaps
        options.version = DXKit.version
        let bar = ProgressBar(label: "score")
        let summary = try Scorer(database: database, heads: installed, options: options).run { done, total, s in
            bar.update(done: done, total: total, rate: s.rate, detail: s.errors > 0 ? "\(s.errors) failed" : "")
        }
        bar.finish()
        print(String(format: "%d candidates: %d scored, %d not applicable, %d failed, %d already scored; %.1f images/s (heads: %@)",
                     summary.candidates, summary.scored, summary.notApplicable, summary.errors, summary.alreadyDone,
                     summary.rate, installed.map(\.name).joined(separator: ", ")))
        return summary
    }
}
