import DICOM
import Foundation
import Store

/// Writes the reports of every study in the index: `DIR/study-<uid>/report.html`, `result.json`,
/// `sr.dcm` and the heatmap images, and `DIR/index.html` listing all studies and the instances no
/// report can show. Guarantees:
/// - one report per (study, patient): a study whose instances name two patients is reported
///   twice, each report and SR holding only its own patient's images, and flagged on the page;
/// - folder names come from the Study Instance UID through `SafeName` behind a fixed `study-`
///   prefix, so no UID (`index.html`, `heatmaps`, `../x`) can collide with dxkit's own files;
/// - an SR copies patient and study data only from a source file that still holds the content
///   the index has for it; otherwise that study gets no SR and a warning;
/// - studies are read and written one at a time: memory does not grow with the number of studies;
/// - one study that fails is a warning naming it; the others are still written.
/// Every text from a DICOM file is escaped.
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
        /// Studies (or study parts) not fully reported — no SR, or no page — with the reason.
        public var failures: [(study: String, reason: String)] = []
        /// Study Instance UIDs holding more than one patient.
        public var conflicts: [String] = []
        /// Indexed instances shown in no study report (listed on the index page).
        public var unreported = 0
        /// The DICOM objects written (SRs and heatmap images), with their derived UIDs.
        public var outputs: [DicomOutputRecord] = []
    }

    /// Writes every study's report, or only those of `studies` (the index page always lists all).
    public func write(studies: Set<String>? = nil) throws -> Summary {
        let units = try database.studyReportUnits(), models = try ModelSummary.all(database), run = try database.latestRun()
        let unreported = try database.unreportedInstances(), unreportedCount = try database.unreportedCount()
        let fm = FileManager.default
        try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
        var summary = Summary()
        summary.unreported = unreportedCount
        summary.conflicts = Array(Set(units.compactMap { $0.conflict == nil ? nil : $0.study })).sorted()
        var index: [IndexPage.Entry] = []
        for unit in units {
            let study = try database.studyReport(unit)
            guard !study.findings.isEmpty else { continue }
            let folder = Self.folder(study)
            if let studies, !studies.contains(unit.study) {
                // Not rewritten: listed on the index page as its earlier report has it.
                if fm.fileExists(atPath: "\(output)/\(folder)/report.html") {
                    index.append(IndexPage.Entry(study: study, folder: folder))
                }
                continue
            }
            do {
                try writeStudy(study, folder: folder, models: models, run: run, summary: &summary)
            } catch {
                summary.failures.append((study.studyInstanceUID, "report not written: \(error)"))
                continue
            }
            index.append(IndexPage.Entry(study: study, folder: folder))
            summary.studies += 1
            if !study.aggregates.isEmpty { summary.withFindings += 1 }
        }
        try IndexPage.html(index, unreported: unreported, unreportedCount: unreportedCount, run: run)
            .write(toFile: "\(output)/index.html", atomically: true, encoding: .utf8)
        return summary
    }

    /// `study-<uid>`, plus `-patient-<key>` when the study holds more than one patient.
    static func folder(_ study: StudyReport) -> String {
        let base = "study-" + SafeName.file(study.studyInstanceUID)
        return study.conflict == nil ? base : base + "-patient-" + SafeName.file(study.patientKey)
    }

    func writeStudy(_ study: StudyReport, folder: String, models: [String: ModelSummary], run: RunRecord?,
                    summary: inout Summary) throws {
        let fm = FileManager.default
        let dir = "\(output)/\(folder)"
        try fm.createDirectory(atPath: "\(dir)/images", withIntermediateDirectories: true)
        var images: [String: String] = [:]
        for f in study.findings {
            for (kind, stored) in [("decided", f.heatmapPath), ("positive", f.positiveHeatmapPath)] {
                guard let stored else { continue }
                let heatmap = StoredPath.resolve(stored, database: database.path)
                guard fm.fileExists(atPath: heatmap) else {
                    summary.failures.append((study.studyInstanceUID, "heatmap \(heatmap) is missing"))
                    continue
                }
                let name = URL(fileURLWithPath: heatmap).lastPathComponent
                let target = "\(dir)/images/\(name)"
                try? fm.removeItem(atPath: target)
                try fm.copyItem(atPath: heatmap, toPath: target)
                images[StudyPage.imageKey(f, kind)] = "images/\(name)"
            }
        }
        try StudyPage.html(study, images: images, models: models, run: run)
            .write(toFile: "\(dir)/report.html", atomically: true, encoding: .utf8)
        try StudyPage.json(study).write(to: URL(fileURLWithPath: "\(dir)/result.json"))
        do {
            summary.outputs += try StudySR.write(study, models: models, folder: dir, database: database.path, version: version)
        } catch {
            try? fm.removeItem(atPath: "\(dir)/sr.dcm")
            summary.failures.append((study.studyInstanceUID, "no sr.dcm: \(error)"))
        }
    }
}
