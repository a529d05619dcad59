import Common
import Foundation
import GRDB

/// The SQLite index of ingested DICOM files (patients → studies → series → instances).
/// Opens or creates the file, runs migrations, and uses WAL journaling so that a killed
/// process leaves every committed transaction intact and nothing half-written.
public final class IndexDatabase {
    public let path: String
    /// The connection; only Store's own requests use it (the writer stays private to the module).
    let queue: DatabaseQueue

    /// Opens the index at `path`; with `mustExist` (commands that only read or add to an index:
    /// score, report, calibrate, audit) a missing file is an error instead of a new empty index.
    public init(path: String, mustExist: Bool = false) throws {
        self.path = path
        if mustExist && !FileManager.default.fileExists(atPath: path) {
            throw StoreError(file: path, reason: "no such database (run dxkit ingest or dxkit run first)")
        }
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            try IndexSchema.migrator.migrate(queue)
        } catch {
            throw StoreError(file: path, reason: "cannot open the database: \(error)")
        }
    }
}

/// A failure of the store, naming the database file and the reason.
public typealias StoreError = FileFailure<StoreDomain>
public enum StoreDomain {}
