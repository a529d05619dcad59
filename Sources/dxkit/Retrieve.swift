import ArgumentParser
import DICOMNetwork
import Foundation
import Pipeline
import Store

struct Retrieve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring studies from a PACS into the index: C-MOVE (--from AE@HOST:PORT) or WADO-RS (--dicomweb URL).",
        discussion: """
            Studies by --study-uid (repeatable) or by query keys (--modality, --date, --patient-id, --accession). \
            C-MOVE sends to an SCP this command runs on --port under --ae-title: the PACS must know that AE title \
            as a move destination at this host and port. With --out, the retrieved studies are scored and reported \
            as dxkit run does. Exit status 1 when some studies or instances failed, 2 on a fatal error.
            """)

    @Option(help: "The PACS, AE@HOST:PORT.") var from: String?
    @Option(help: "DICOMweb root, e.g. http://pacs:8042/dicom-web.") var dicomweb: String?
    @Option(name: .customLong("study-uid"), help: "Study Instance UID (repeatable).") var studyUIDs: [String] = []
    @OptionGroup var keys: QueryKeyOptions
    @OptionGroup var ae: AETitleOption
    @Option(help: "Port of our SCP for C-MOVE.") var port = 11113
    @Option(help: "SQLite index.") var db = "dxkit.sqlite"
    @Option(help: "Where retrieved files are kept (default: <db folder>/received).") var store: String?
    @Option(help: "Score the retrieved studies and write the reports here.") var out: String?
    @Option(help: "Threads.") var jobs = 2
    @OptionGroup var models: ModelOptions
    @OptionGroup var decode: DecodeLimitOptions

    func validate() throws {
        if studyUIDs.isEmpty && keys.isEmpty {
            throw ValidationError("give --study-uid or query keys (--modality, --date, --patient-id, --accession)")
        }
    }

    func run() throws {
        let database: IndexDatabase
        let summary: RetrieveSummary
        let storeDirectory = store ?? URL(fileURLWithPath: db).deletingLastPathComponent().appendingPathComponent("received").path
        do {
            let endpoint = try NetworkEndpoint.make(peer: from, dicomweb: dicomweb, aeTitle: ae.aeTitle, option: "--from")
            var studies = studyUIDs
            if studies.isEmpty {
                studies = try endpoint.findStudies(keys.query()).map(\.studyInstanceUID)
                print("\(studies.count) studies match")
            }
            database = try IndexDatabase(path: db)
            var options = RetrieveJob.Options(storeDirectory: storeDirectory)
            options.jobs = jobs
            options.limits = decode.limits
            options.scp = StorageSCP.Configuration(aeTitle: ae.aeTitle, port: port, storeDirectory: storeDirectory,
                                                   incomingDirectory: storeDirectory + "/.incoming")
            let job = RetrieveJob(database: database, endpoint: endpoint, options: options)
            job.log = { printError($0) }
            summary = try job.run(studies: studies)
        } catch {
            throw networkFailure("retrieve", error)
        }
        print(String(format: "%d studies: %d instances received, %d ingested, %d failed; %.1f instances/s",
                     summary.studies, summary.received, summary.ingest.ingested, summary.ingest.failed + summary.failedSubOperations,
                     summary.seconds > 0 ? Double(summary.received) / summary.seconds : 0))
        var failed = !summary.failures.isEmpty || summary.ingest.failed > 0 || summary.failedSubOperations > 0
        if let out {
            let scoring = try Score.score(db: db, heads: nil, jobs: jobs, batch: 16, models: models, heatmaps: "\(out)/heatmaps",
                                          limits: decode.limits)
            failed = failed || scoring.errors > 0
            failed = try Report.write(db: db, out: out) || failed
        }
        if failed { throw ExitCode(1) }
    }
}
