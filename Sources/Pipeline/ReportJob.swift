import Foundation
import Reports
import Store

/// Writes study reports (all, or some studies) and records the DICOM objects written — each SR and
/// heatmap image with its derived UIDs — in the index, where `SendJob` finds them.
public struct ReportJob {
    public let database: IndexDatabase
    public let output: String
    public let version: String

    public init(database: IndexDatabase, output: String, version: String) {
        self.database = database
        self.output = output
        self.version = version
    }

    public func run(studies: Set<String>? = nil) throws -> ReportWriter.Summary {
        let summary = try ReportWriter(database: database, output: output, version: version).write(studies: studies)
        try database.recordOutputs(summary.outputs)
        return summary
    }
}
