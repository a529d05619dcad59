import DICOM
import DICOMNetwork
import Foundation
import Store

/// Counts of a `ListenJob` run.
public struct ListenSummary: Sendable {
    public var received = 0
    public var studiesReported = 0
    public var scored = 0
    public var errors = 0
    /// SRs and heatmap images sent back, and how many were refused.
    public var sent = 0
    public var sendFailures = 0
    /// Associations still running when the SCP stopped (their partial files were discarded).
    public var cutOff = 0
}

/// Between the PACS and the viewer: a Storage SCP that files each received instance to disk,
/// ingests it, and when a study has been idle for `studyIdle` seconds scores it, writes its report,
/// SR and heatmap images, and sends those back (C-STORE or STOW-RS) when a destination is set.
///
/// Durability: an instance exists only once the SCP has it complete on disk (see `StorageSCP`); it
/// is recorded in the index as received, ingested in small batches, and its study is pending until
/// reported. On start, files in the store that the index does not know (a SIGKILL between storing and
/// recording) are ingested and recorded, and every pending study is scored once idle — so what was
/// received but not scored before a crash or a SIGTERM is scored on the next start, once per
/// instance (results are unique per instance, head and model).
public final class ListenJob {
    public struct Options {
        public var scp: StorageSCP.Configuration
        /// Reports, SRs and heatmaps (`DIR/study-…`, as `dxkit report` writes them).
        public var output: String
        public var studyIdle: Double = 30
        public var sendTo: NetworkEndpoint?
        public var scoring = ScoreJob.Options()
        public var version = "0"
        /// Seconds the SCP waits for running associations on shutdown.
        public var shutdownGrace = 10

        public init(scp: StorageSCP.Configuration, output: String) {
            self.scp = scp
            self.output = output
        }
    }

    public let database: IndexDatabase
    public let heads: [ScoreJob.Head]
    public let options: Options
    /// Where log lines go (UIDs, AE titles and addresses only: never a patient's name).
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(("\($0)\n").utf8)) }

    public init(database: IndexDatabase, heads: [ScoreJob.Head], options: Options) {
        self.database = database
        self.heads = heads
        self.options = options
    }

    /// Runs until `shouldStop` answers true (checked about twice a second), then shuts down cleanly.
    public func run(shouldStop: () -> Bool) throws -> ListenSummary {
        let lock = try DatabaseLock.acquire(database: database.path)
        defer { lock.release() }
        var summary = ListenSummary()
        try recover()
        let scp = try StorageSCP(options.scp)
        log("listening as \(options.scp.aeTitle) on port \(options.scp.port); storing in \(options.scp.storeDirectory); study idle \(options.studyIdle) s"
            + (options.sendTo.map { "; results go to \($0.name)" } ?? ""))
        var buffer: [ReceivedRecord] = []
        var lastFlush = Date()
        while !shouldStop() {
            if let event = scp.next(timeout: 0.5) {
                handle(event, buffer: &buffer, summary: &summary)
                while buffer.count < 64, let more = scp.next(timeout: 0) { handle(more, buffer: &buffer, summary: &summary) }
            }
            if !buffer.isEmpty && (buffer.count >= 32 || Date().timeIntervalSince(lastFlush) >= 0.5) {
                try ingest(&buffer)
                lastFlush = Date()
            }
            if buffer.isEmpty { try reportIdleStudies(summary: &summary, shouldStop: shouldStop) }
        }
        log("stopping: no new associations; waiting up to \(options.shutdownGrace) s for running ones")
        summary.cutOff = scp.stop(grace: options.shutdownGrace)
        while let event = scp.next(timeout: 0) { handle(event, buffer: &buffer, summary: &summary) }
        try ingest(&buffer)
        let pending = try database.pendingStudies().count
        log("stopped: \(summary.received) instances received, \(summary.studiesReported) study reports written"
            + (pending > 0 ? "; \(pending) studies pending (scored on the next start)" : ""))
        return summary
    }

    /// Files in the store the index does not know yet (stored before a crash) are ingested and
    /// recorded as received.
    func recover() throws {
        let store = options.scp.storeDirectory, fm = FileManager.default
        try fm.createDirectory(atPath: store, withIntermediateDirectories: true)
        // Transfers cut off by the last stop are not instances: gone before anything is ingested.
        let incoming = options.scp.incomingDirectory
        for name in (try? fm.contentsOfDirectory(atPath: incoming)) ?? [] where name.hasSuffix(".part") {
            try? fm.removeItem(atPath: "\(incoming)/\(name)")
        }
        let ingest = IngestJob(database: database, jobs: options.scoring.jobs)
        ingest.limits = options.scoring.limits
        _ = try ingest.run(paths: [store])
        let recovered = try database.recoverReceived(under: store, at: Date().timeIntervalSince1970)
        if recovered > 0 { log("recovered \(recovered) instances stored before the last stop") }
        let pending = try database.pendingStudies()
        if !pending.isEmpty { log("\(pending.count) studies received earlier are not reported yet: scored once idle") }
    }

    func handle(_ event: StorageSCP.Event, buffer: inout [ReceivedRecord], summary: inout ListenSummary) {
        switch event {
        case let .stored(i):
            summary.received += 1
            buffer.append(ReceivedRecord(path: i.path, sopInstanceUID: i.sopInstanceUID, studyInstanceUID: i.studyInstanceUID,
                                         seriesInstanceUID: i.seriesInstanceUID, peer: i.peer, transferSyntax: i.transferSyntax,
                                         receivedAt: Date().timeIntervalSince1970))
        case let .info(peer, message): log("\(peer): \(message)")
        case let .error(peer, message):
            summary.errors += 1
            log("error: \(peer): \(message)")
        }
    }

    func ingest(_ buffer: inout [ReceivedRecord]) throws {
        guard !buffer.isEmpty else { return }
        try database.recordReceived(buffer)
        let job = IngestJob(database: database, jobs: options.scoring.jobs)
        job.limits = options.scoring.limits
        let result = try job.run(paths: buffer.map(\.path))
        for failure in result.failures { log("error: received file \(failure.path) could not be indexed: \(failure.reason)") }
        buffer.removeAll()
    }

    /// Scores, reports and sends every pending study idle for `studyIdle` seconds.
    func reportIdleStudies(summary: inout ListenSummary, shouldStop: () -> Bool) throws {
        let now = Date().timeIntervalSince1970
        let due = try database.pendingStudies().filter { now - $0.lastReceivedAt >= options.studyIdle }
        guard !due.isEmpty, !shouldStop() else { return }
        let started = Date()
        let scoring = try ScoreJob(database: database, heads: heads, options: options.scoring).run()
        summary.scored += scoring.scored
        let studies = Set(due.map(\.studyInstanceUID))
        let report = try ReportJob(database: database, output: options.output, version: options.version).run(studies: studies)
        try database.markReported(Array(studies), at: now)
        summary.studiesReported += studies.count
        for failure in report.failures { log("error: study \(failure.study): \(failure.reason)") }
        let outputs = report.outputs
        for study in studies.sorted() {
            let mine = outputs.filter { $0.studyInstanceUID == study }
            let sr = mine.first { $0.kind == .sr }
            log("study \(study): reported (\(String(format: "%.1f", Date().timeIntervalSince(started))) s, \(scoring.scored) instances scored in this pass)"
                + (sr.map { "; SR \($0.sopInstanceUID) and \(mine.count - 1) heatmap images" } ?? "; no SR (nothing scored)"))
        }
        guard let destination = options.sendTo, !outputs.isEmpty else { return }
        do {
            let sent = try SendJob(endpoint: destination).send(outputs: outputs, database: database)
            summary.sent += sent.filter(\.sent).count
            for failure in sent where !failure.sent {
                summary.sendFailures += 1
                log("error: \(destination.name): \(failure.sopInstanceUID): \(failure.message)")
            }
            log("sent \(sent.filter(\.sent).count) of \(outputs.count) objects to \(destination.name)")
        } catch {
            summary.sendFailures += outputs.count
            log("error: sending results to \(destination.name) failed: \(error) (retried when the study is reported again, or with dxkit send)")
        }
    }
}
