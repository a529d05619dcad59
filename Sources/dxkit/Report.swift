import ArgumentParser
import Reports
import Store
import Foundation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write per-study reports (report.html, result.json, heatmaps) and index.html.")

    @Option(help: "SQLite index.") var db = "dxkit.sqlite"
    @Option(help: "Output folder.") var out: String
    @Option(help: "Render this stored audit (see dxkit audit) instead of the study reports.") var audit: Int64?

    func run() throws {
        do {
            if let audit {
                print("audit report: " + (try AuditPage.write(database: IndexDatabase(path: db), audit: audit, to: out)))
                return
            }
            let summary = try ReportWriter(database: IndexDatabase(path: db), output: out, version: DXKit.version).write()
            print("reports: \(summary.studies) studies (\(summary.withFindings) with scored findings) in \(out)/index.html")
            for failure in summary.srFailures { printError("warning: no sr.dcm for study \(failure.study): \(failure.reason)") }
        } catch {
            printError("dxkit report: \(error)")
            throw ExitCode(2)
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The main job: ingest PATHs, score them, and write the reports.",
        discussion: "Exit status 1 when some files or instances failed (the rest is still done), 2 on a fatal error.")

    @Argument(help: "DICOM files or folders.") var paths: [String]
    @Option(help: "Output folder for the reports.") var out = "reports"
    @Option(help: "SQLite index (default: <out>/dxkit.sqlite).") var db: String?
    @Option(help: "Threads.") var jobs = 2
    @Option(help: "Folder holding the converted models.") var modelsDir = "models"

    func run() throws {
        let database = db ?? "\(out)/dxkit.sqlite"
        try? FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var failed = false
        do {
            let ingest = try Ingest.parse(paths + ["--db", database, "--jobs", String(jobs)])
            try ingest.run()
        } catch let code as ExitCode where code.rawValue == 1 {
            failed = true
        }
        let summary = try Score.score(db: database, heads: nil, jobs: jobs, batch: 16, modelsDir: modelsDir,
                                      heatmaps: "\(out)/heatmaps")
        failed = failed || summary.errors > 0
        let report = try Report.parse(["--db", database, "--out", out])
        try report.run()
        if failed { throw ExitCode(1) }
    }
}
