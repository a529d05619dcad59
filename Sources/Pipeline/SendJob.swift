import DICOM
import DICOMNetwork
import Foundation
import Store

/// Counts of one send.
public struct SendSummary: Sendable {
    public var files = 0
    public var sent = 0
    public var failed = 0
    /// Entries that are not DICOM files (skipped, with the reason).
    public var skipped: [(path: String, reason: String)] = []
    public var outcomes: [SendOutcome] = []
    public var seconds = 0.0
}

/// Sends DICOM files to a PACS (C-STORE or STOW-RS), in batches (one association or request each).
/// A file the peer refuses is one failed outcome with the peer's reason; the others still go.
public struct SendJob {
    public let endpoint: NetworkEndpoint
    public var batchSize = 200

    public init(endpoint: NetworkEndpoint) {
        self.endpoint = endpoint
    }

    /// Sends what `paths` hold (folders walked as `ingest` walks them).
    public func run(paths: [String], progress: (SendSummary) -> Void = { _ in }) throws -> SendSummary {
        let start = Date()
        let scan = FileScanner().scan(paths)
        if let missing = scan.missing.first { throw NetworkError(file: missing, reason: "no such file or folder") }
        var summary = SendSummary()
        summary.skipped = scan.skipped
        let files = scan.files
        summary.files = files.count
        for first in stride(from: 0, to: files.count, by: batchSize) {
            let batch = Array(files[first..<min(files.count, first + batchSize)])
            let outcomes = try endpoint.send(batch)
            summary.outcomes += outcomes
            summary.sent += outcomes.filter(\.sent).count
            summary.failed += outcomes.filter { !$0.sent }.count
            summary.seconds = Date().timeIntervalSince(start)
            progress(summary)
        }
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    /// Sends the DICOM objects dxkit wrote (SRs, heatmaps) and records in the index where each went.
    public func send(outputs: [DicomOutputRecord], database: IndexDatabase) throws -> [SendOutcome] {
        guard !outputs.isEmpty else { return [] }
        let outcomes = try endpoint.send(outputs.map(\.path))
        for (output, outcome) in zip(outputs, outcomes) {
            try database.recordSent(sopInstanceUID: output.sopInstanceUID, destination: endpoint.name, sent: outcome.sent,
                                    reason: outcome.sent ? nil : outcome.message)
        }
        return outcomes
    }
}
