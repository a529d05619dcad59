import DICOM
import DICOMNetwork
import Foundation
import Store

/// Counts of one retrieve.
public struct RetrieveSummary: Sendable {
    public var studies = 0
    /// Instances that arrived (C-STORE sub-operations into our SCP, or WADO-RS parts).
    public var received = 0
    /// Sub-operations the PACS reported failed, and studies whose retrieval failed as a whole.
    public var failedSubOperations = 0
    public var failures: [(study: String, reason: String)] = []
    public var ingest = IngestSummary()
    public var seconds = 0.0
}

/// Brings studies from a PACS into the index: by C-MOVE to a Storage SCP this job runs for the
/// purpose (our AE title and port, which the PACS must know as a move destination), or by WADO-RS.
/// Files land in the store folder as `listen` stores them, are ingested and recorded as received.
public final class RetrieveJob {
    public struct Options {
        public var storeDirectory: String
        /// For C-MOVE: the SCP the PACS sends to (our AE title, port).
        public var scp: StorageSCP.Configuration?
        public var jobs = 2
        public var limits = DecodeLimits.standard

        public init(storeDirectory: String) { self.storeDirectory = storeDirectory }
    }

    public let database: IndexDatabase
    public let endpoint: NetworkEndpoint
    public let options: Options
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(("\($0)\n").utf8)) }

    public init(database: IndexDatabase, endpoint: NetworkEndpoint, options: Options) {
        self.database = database
        self.endpoint = endpoint
        self.options = options
    }

    public func run(studies: [String]) throws -> RetrieveSummary {
        let start = Date()
        let lock = try DatabaseLock.acquire(database: database.path)
        defer { lock.release() }
        var summary = RetrieveSummary()
        summary.studies = studies.count
        var files: [String] = []
        switch endpoint {
        case let .dimse(client):
            guard var configuration = options.scp else {
                throw NetworkError(file: client.peer.description, reason: "C-MOVE needs our own SCP (--ae-title and --port)")
            }
            configuration.storeDirectory = options.storeDirectory
            configuration.incomingDirectory = options.storeDirectory + "/.incoming"
            configuration.allowed = []
            let scp = try StorageSCP(configuration)
            defer { scp.stop(grace: 5) }
            func drain() {
                while let event = scp.next(timeout: 0) {
                    switch event {
                    case let .stored(i): files.append(i.path)
                    case let .error(peer, message): log("error: \(peer): \(message)")
                    case .info: break
                    }
                }
            }
            for study in studies {
                do {
                    let outcome = try client.moveStudy(study, to: configuration.aeTitle)
                    summary.failedSubOperations += outcome.failed
                    log("study \(study): \(outcome.completed) instances moved, \(outcome.failed) failed, \(outcome.warning) with warnings")
                } catch {
                    summary.failures.append((study, "\(error)"))
                    log("error: study \(study): \(error)")
                }
                drain()
            }
            scp.stop(grace: 5)
            drain()
        case let .dicomweb(client):
            for study in studies {
                do {
                    let got = try client.retrieveStudy(study, into: "\(options.storeDirectory)/\(SafeName.file(study))")
                    files += got
                    log("study \(study): \(got.count) instances retrieved")
                } catch {
                    summary.failures.append((study, "\(error)"))
                    log("error: study \(study): \(error)")
                }
            }
        }
        summary.received = files.count
        let ingest = IngestJob(database: database, jobs: options.jobs)
        ingest.limits = options.limits
        summary.ingest = try ingest.run(paths: Array(Set(files)).sorted())
        try database.recoverReceived(under: options.storeDirectory, at: Date().timeIntervalSince1970, peer: endpoint.name)
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }
}
