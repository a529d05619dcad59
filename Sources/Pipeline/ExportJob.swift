import Foundation
import Reports
import Store

/// `dxkit export`: one table of the index (results, study results, audits or calibrations) as CSV
/// or JSON Lines, written to a file or standard output as it is read (memory stays flat).
public struct ExportJob {
    public let database: IndexDatabase
    public init(database: IndexDatabase) { self.database = database }

    /// Writes `kind` as `format` to `handle`; returns the number of rows.
    @discardableResult
    public func run(_ kind: ExportKind, format: TableWriter.Format, to handle: FileHandle) throws -> Int {
        let writer = TableWriter(format: format, columns: IndexDatabase.exportColumns(kind))
        var buffer = writer.header ?? ""
        var rows = 0
        func flush() {
            handle.write(Data(buffer.utf8))
            buffer.removeAll(keepingCapacity: true)
        }
        try database.export(kind) { values in
            buffer += writer.line(values)
            rows += 1
            if buffer.utf8.count > 1 << 16 { flush() }
        }
        flush()
        return rows
    }
}
