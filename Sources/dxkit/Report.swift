import ArgumentParser
import Pipeline
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
                print("audit report: " + (try AuditPage.write(database: IndexDatabase(path: db, mustExist: true), audit: audit, to: out)))
                return
            }
            if try Self.write(db: db, out: out) { throw ExitCode(1) }
        } catch let code as ExitCode {
            throw code
        } catch {
            printError("dxkit report: \(error)")
            throw ExitCode(2)
        }
    }

    /// Writes the study reports and prints the summary; returns whether some study could not be
    /// fully reported (an SR or a page failed). Fatal problems throw.
    static func write(db: String, out: String) throws -> Bool {
        let summary: ReportWriter.Summary
        do {
            summary = try ReportWriter(database: IndexDatabase(path: db, mustExist: true), output: out, version: DXKit.version).write()
        } catch {
            printError("dxkit report: \(error)")
            throw ExitCode(2)
        }
        print("reports: \(summary.studies) studies (\(summary.withFindings) with scored findings) in \(out)/index.html")
        for failure in summary.failures { printError("warning: study \(failure.study): \(failure.reason)") }
        for conflict in summary.conflicts {
            printError("warning: study \(conflict) holds more than one patient: one report per patient, never merged")
        }
        if summary.unreported > 0 {
            printError("warning: \(summary.unreported) instance(s) are in no study report (no Study Instance UID or no pixel data); index.html lists them")
        }
        return !summary.failures.isEmpty
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
    @OptionGroup var models: ModelOptions
    @OptionGroup var decode: DecodeLimitOptions
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
        var failed = try Ingest.ingest(paths: paths, db: database, jobs: jobs, limits: decode.limits, verbose: verbose)
        let summary = try Score.score(db: database, heads: nil, jobs: jobs, batch: 16, models: models,
                                      heatmaps: "\(out)/heatmaps", limits: decode.limits)
        failed = failed || summary.errors > 0
        failed = try Report.write(db: database, out: out) || failed
        if failed { throw ExitCode(1) }
    }
}
