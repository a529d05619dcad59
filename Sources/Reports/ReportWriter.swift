import Foundation
import GRDB
import Store

/// Writes the reports of every study in the index: `DIR/<study>/report.html`, `result.json` and
/// the heatmap images, and `DIR/index.html` listing all studies. Folder names come from the
/// Study Instance UID through `SafeName`; every text from a DICOM file is escaped.
public struct ReportWriter {
    public let database: IndexDatabase
    public let output: String
    /// dxkit's version, written into the SR's Software Versions.
    public let version: String

    public init(database: IndexDatabase, output: String, version: String = "0") {
        self.database = database
        self.output = output
        self.version = version
    }

    public struct Summary {
        public var studies = 0
        public var withFindings = 0
        /// Studies whose SR could not be written (e.g. a source UID that is not a valid UID), with the reason.
        public var srFailures: [(study: String, reason: String)] = []
    }

    public func write() throws -> Summary {
        let (studies, models, run) = try database.queue.read { db in
            (try StudyReport.loadAll(db), try ModelSummary.loadAll(db),
             try Row.fetchOne(db, sql: "SELECT * FROM runs ORDER BY id DESC LIMIT 1"))
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
        var summary = Summary()
        var index: [(StudyReport, String)] = []
        for study in studies where !study.findings.isEmpty {
            let folder = SafeName.folder(study.studyInstanceUID)
            let dir = "\(output)/\(folder)"
            try fm.createDirectory(atPath: "\(dir)/images", withIntermediateDirectories: true)
            var images: [String: String] = [:]
            for f in study.findings {
                guard let heatmap = f.heatmapPath, fm.fileExists(atPath: heatmap) else { continue }
                let name = URL(fileURLWithPath: heatmap).lastPathComponent
                let target = "\(dir)/images/\(name)"
                try? fm.removeItem(atPath: target)
                try fm.copyItem(atPath: heatmap, toPath: target)
                images[f.sopInstanceUID + "|" + f.head] = "images/\(name)"
            }
            try StudyPage.html(study, images: images, models: models, run: run)
                .write(toFile: "\(dir)/report.html", atomically: true, encoding: .utf8)
            try StudyPage.json(study).write(to: URL(fileURLWithPath: "\(dir)/result.json"))
            do {
                try StudySR.write(study, models: models, to: "\(dir)/sr.dcm", version: version)
            } catch {
                summary.srFailures.append((study.studyInstanceUID, "\(error)"))
            }
            index.append((study, folder))
            summary.studies += 1
            if !study.aggregates.isEmpty { summary.withFindings += 1 }
        }
        try IndexPage.html(index, run: run).write(toFile: "\(output)/index.html", atomically: true, encoding: .utf8)
        return summary
    }
}

extension SafeName {
    /// A folder name for a study: safe characters only (see `file`).
    public static func folder(_ studyUID: String) -> String { file(studyUID) }
}
