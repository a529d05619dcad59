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
}

/// The part of a stored row that decides whether a file changed.
struct StoredStamp: Sendable {
    var size: Int64
    var mtime: Double
    var sha256: String
    var status: String
    var error: String?
}
