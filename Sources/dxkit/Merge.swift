import ArgumentParser
import Foundation
import Pipeline
import Store

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge shard indexes (dxkit run/score --shard I/N) into one index; report then renders the whole cohort.",
        discussion: """
            Idempotent: instances are matched by path (or SOP Instance UID and content), results by SOP Instance UID, head \
            and model weights, study results by study, patient, head and model; rows already there with the same values \
            add nothing (merging twice, or a re-run shard, adds nothing). Rows that differ are conflicts: kept as the \
            merged index has them and listed. Exit status 0, 1 when there were conflicts, 2 on a fatal error.
            """)

    @Argument(help: "Shard indexes (SQLite files) to merge.") var shards: [String]
    @Option(help: "The merged index (created when missing).") var db: String

    func run() throws {
        var conflicts = 0
        do {
            let folder = URL(fileURLWithPath: db).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let database = try IndexDatabase(path: db)
            _ = try MergeJob(database: database).run(shards: shards) { s in
                print("merged \(s.shard): \(s.instancesAdded) instances, \(s.resultsAdded) results, \(s.studyResultsAdded) study results, "
                      + "\(s.runsAdded) runs, \(s.modelsAdded) models added; \(s.instancesPresent) instances, \(s.resultsPresent) results "
                      + "and \(s.studyResultsPresent) study results already there; \(s.conflicts.count) conflicts")
                for note in s.notes { printError("note: \(s.shard): \(note)") }
                for c in s.conflicts.prefix(20) { printSafe("conflict: \(c)") }
                if s.conflicts.count > 20 { printError("… \(s.conflicts.count - 20) more conflicts in \(s.shard)") }
                conflicts += s.conflicts.count
            }
        } catch {
            printError("dxkit merge: \(error)")
            throw ExitCode(2)
        }
        if conflicts > 0 {
            printError("dxkit merge: \(conflicts) conflicting row(s) kept as \(db) has them (listed above)")
            throw ExitCode(1)
        }
    }
}
