import ArgumentParser
import DICOMNetwork
import Foundation
import Pipeline
import Store

/// Set by SIGTERM/SIGINT; `listen` checks it twice a second and shuts down cleanly.
nonisolated(unsafe) var listenStopRequested: sig_atomic_t = 0

struct Listen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive studies from a PACS (Storage SCP), score each once it is idle, write its report and SR, and send them back.",
        discussion: """
            Accepts every storage SOP class in the transfer syntax the peer holds it in, and C-ECHO. Each study \
            idle for --study-idle is scored, reported in --out (report.html, result.json, sr.dcm, heatmap-N.dcm) \
            and, with --send-to, its SR and heatmap images are sent back by C-STORE (or STOW-RS with \
            --send-to-dicomweb). SIGTERM or Ctrl-C stops it cleanly: no half-received file becomes an instance, \
            and what was received but not yet scored is scored on the next start. Log lines name peers and UIDs, \
            never patients.
            """)

    @Option(help: "TCP port.") var port = 11112
    @OptionGroup var ae: AETitleOption
    @Option(help: "Who may send: AE or AE@HOST, comma-separated (default: anyone).") var allow: String?
    @Option(help: "SQLite index.") var db = "dxkit.sqlite"
    @Option(help: "Reports, SRs and heatmaps.") var out = "reports"
    @Option(help: "Received files (default: <out>/received).") var store: String?
    @Option(name: .customLong("send-to"), help: "Send each study's SR and heatmaps here: AE@HOST:PORT.") var sendTo: String?
    @Option(name: .customLong("send-to-dicomweb"), help: "Or by STOW-RS to this DICOMweb root.") var sendToDicomweb: String?
    @Option(name: .customLong("study-idle"), help: "Score a study once nothing arrived for it this long (30s, 2m, 500ms).")
    var studyIdle = Duration(argument: "30s")!
    @Option(name: .customLong("max-associations"), help: "Concurrent associations.") var maxAssociations = 16
    @Option(help: "Seconds an association may stay idle, and the network read timeout.") var timeout = 30
    @Option(help: "Threads.") var jobs = 2
    @OptionGroup var models: ModelOptions
    @OptionGroup var decode: DecodeLimitOptions

    func run() throws {
        let job: ListenJob
        do {
            let heads = try InstalledHeads.load(search: models.search(), only: nil)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let database = try IndexDatabase(path: db)
            let storeDirectory = store ?? "\(out)/received"
            var scp = StorageSCP.Configuration(aeTitle: ae.aeTitle, port: port, storeDirectory: storeDirectory,
                                               incomingDirectory: storeDirectory + "/.incoming")
            scp.allowed = try (allow ?? "").split(separator: ",").map { try AllowedCaller(parsing: String($0)) }
            scp.maxAssociations = maxAssociations
            scp.timeoutSeconds = timeout
            var options = ListenJob.Options(scp: scp, output: out)
            options.studyIdle = studyIdle.seconds
            if sendTo != nil || sendToDicomweb != nil {
                options.sendTo = try NetworkEndpoint.make(peer: sendTo, dicomweb: sendToDicomweb, aeTitle: ae.aeTitle, option: "--send-to")
            }
            options.scoring.jobs = jobs
            options.scoring.heatmapDirectory = "\(out)/heatmaps"
            options.scoring.version = DXKit.version
            options.scoring.limits = decode.limits
            options.version = DXKit.version
            job = ListenJob(database: database, heads: heads, options: options)
        } catch {
            throw networkFailure("listen", error)
        }
        job.log = { line in
            let stamp = ISO8601DateFormatter().string(from: Date())
            printError("\(stamp) \(line)")
        }
        signal(SIGTERM) { _ in listenStopRequested = 1 }
        signal(SIGINT) { _ in listenStopRequested = 1 }
        do {
            _ = try job.run { listenStopRequested != 0 }
        } catch {
            throw networkFailure("listen", error)
        }
    }
}
