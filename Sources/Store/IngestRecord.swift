import DICOM
import Foundation

/// What ingesting one file produced, ready to be written to the index.
public struct IngestRecord: Sendable {
    public enum Outcome: Sendable {
        /// Parsed: its header, written as an `ok` row.
        case parsed(Instance)
        /// Could not be parsed or is structurally broken: an `error` row with the reason.
        case failed(String)
        /// Same size, time and content as the row already stored: nothing to write.
        case unchanged
        /// Same content, new time stamp: only the stamp is updated.
        case touched
        /// Not DICOM (by name and content): counted, not stored.
        case skipped(String)
        /// A DICOMDIR: counted, not stored (the scanner follows its records).
        case directory
    }

    public var path: String
    public var size: Int64
    public var mtime: Double
    public var sha256: String?
    public var outcome: Outcome

    public init(path: String, size: Int64, mtime: Double, sha256: String?, outcome: Outcome) {
        self.path = path
        self.size = size
        self.mtime = mtime
        self.sha256 = sha256
        self.outcome = outcome
    }
}

/// The part of a stored row that decides whether a file changed.
public struct StoredStamp: Sendable {
    public var size: Int64
    public var mtime: Double
    public var sha256: String
    public var status: String
    public var error: String?
}

extension IndexDatabase {
    /// Path → stamp of every stored instance, to tell changed files from unchanged ones.
    public func storedStamps() throws -> [String: StoredStamp] { try queue.read { try IndexWriter.stamps($0) } }

    /// Writes ingest records in one transaction (a killed ingest leaves whole files only), then
    /// re-marks identity conflicts of the studies they touched; returns how many of them carry a
    /// SOP Instance UID another stored file already has.
    public func write(_ records: [IngestRecord]) throws -> Int {
        let time = ISO8601DateFormatter().string(from: Date())
        return try queue.write { db -> Int in
            var duplicates = 0
            var studies = Set<String>()
            for record in records {
                studies.formUnion(try IndexWriter.write(record, at: time, db))
                if case let .parsed(instance) = record.outcome,
                   try IndexWriter.isDuplicate(instance.sopInstanceUID, path: record.path, db) { duplicates += 1 }
            }
            try IndexWriter.updateConflicts(studies, db)
            return duplicates
        }
    }

    /// Conflicted studies that hold one of `paths`: study UID and the patient keys it mixes.
    public func conflicts(among paths: Set<String>) throws -> [(study: String, patients: String)] {
        try queue.read { try IndexWriter.conflicts(among: paths, $0) }
    }

    /// How many of `paths` are indexed images no report can show: (no Study Instance UID, no pixel data).
    public func unreportable(among paths: Set<String>) throws -> (noStudy: Int, noPixels: Int) {
        try queue.read { try IndexWriter.unreportable(among: paths, $0) }
    }
}
