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
            summary = try ReportJob(database: IndexDatabase(path: db, mustExist: true), output: out, version: DXKit.version).run()
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
