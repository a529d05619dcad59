import ArgumentParser
import DICOMNetwork
import Foundation
import Pipeline

/// Our own AE title, shared by the network commands.
struct AETitleOption: ParsableArguments {
    @Option(name: .customLong("ae-title"), help: "Our AE title (calling AE for send/query/retrieve, called AE for listen).")
    var aeTitle = "DXKIT"
}

/// Study-level query keys (`query`, `retrieve`).
struct QueryKeyOptions: ParsableArguments {
    @Option(help: "Modality in the study (e.g. CR).") var modality: String?
    @Option(help: "Study date or range: YYYYMMDD or YYYYMMDD-YYYYMMDD.") var date: String?
    @Option(name: .customLong("patient-id"), help: "Patient ID.") var patientID: String?
    @Option(name: .customLong("accession"), help: "Accession number.") var accession: String?

    func query(studyUID: String? = nil) -> StudyQuery {
        StudyQuery(patientID: patientID, studyDate: date, modality: modality, studyInstanceUID: studyUID, accessionNumber: accession)
    }

    var isEmpty: Bool { modality == nil && date == nil && patientID == nil && accession == nil }
}

/// A duration: `30`, `30s`, `500ms`, `2m`, `1h`.
struct Duration: ExpressibleByArgument {
    var seconds: Double

    init?(argument: String) {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var text = argument, scale = 1.0
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            text.removeLast(suffix.count)
            scale = factor
            break
        }
        guard let value = Double(text), value.isFinite, value >= 0, value * scale <= 7 * 86400 else { return nil }
        seconds = value * scale
    }
}

/// A closing line for network failures: what failed and why, then exit 2.
func networkFailure(_ command: String, _ error: Error) -> ExitCode {
    printError("dxkit \(command): \(error)")
    return ExitCode(2)
}
