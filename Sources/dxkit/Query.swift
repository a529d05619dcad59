import ArgumentParser
import DICOMNetwork
import Foundation
import Pipeline

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find studies in a PACS: C-FIND (--from AE@HOST:PORT) or QIDO-RS (--dicomweb URL).",
        discussion: "Prints one line per study (UID, date, modalities, series, instances, description), or --json.")

    @Option(help: "The PACS, AE@HOST:PORT.") var from: String?
    @Option(help: "DICOMweb root, e.g. http://pacs:8042/dicom-web.") var dicomweb: String?
    @OptionGroup var keys: QueryKeyOptions
    @Option(name: .customLong("study-uid"), help: "Study Instance UID.") var studyUID: String?
    @OptionGroup var ae: AETitleOption
    @Flag(help: "JSON array of the matches.") var json = false

    func run() throws {
        let matches: [StudyMatch]
        do {
            let endpoint = try NetworkEndpoint.make(peer: from, dicomweb: dicomweb, aeTitle: ae.aeTitle, option: "--from")
            matches = try endpoint.findStudies(keys.query(studyUID: studyUID))
        } catch {
            throw networkFailure("query", error)
        }
        if json {
            print(try JSONOutput.string(matches))
            return
        }
        printSafe("study_instance_uid\tdate\tmodalities\tseries\tinstances\tdescription")
        for m in matches {
            printSafe([m.studyInstanceUID, m.studyDate ?? "", m.modalities.joined(separator: "\\"), m.series.map(String.init) ?? "",
                       m.instances.map(String.init) ?? "", m.studyDescription ?? ""].joined(separator: "\t"))
        }
        print("\(matches.count) studies")
    }
}
