import ArgumentParser
import Pipeline
import DICOM
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a DICOM file's key tags and a decode summary of its first frame.",
        discussion: "Exit status 1 when the file cannot be read or its pixels cannot be decoded.")

    @Argument(help: "A DICOM file.")
    var file: String

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var decode: DecodeLimitOptions

    func run() throws {
        let report = Inspection(path: file, limits: decode.limits)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printText(report)
        }
        if report.failed { throw ExitCode(1) }
    }

    func printText(_ r: Inspection) {
        func line(_ name: String, _ value: Any?) {
            let text = value.map { "\($0)" } ?? "—"
            printSafe(name.padding(toLength: 22, withPad: " ", startingAt: 0) + text)
        }
        line("File", r.path)
        if let i = r.instance {
            line("SOP Instance UID", i.sopInstanceUID)
            line("SOP Class UID", i.sopClassUID)
            line("Study Instance UID", i.studyInstanceUID)
            line("Series Instance UID", i.seriesInstanceUID)
            line("Patient ID", i.patientID)
            line("Sex / age (years)", "\(i.patientSex ?? "—") / \(i.ageYears.map { String(format: "%.1f", $0) } ?? "—")")
            line("Modality", i.modality)
            line("Body part / view", "\(i.bodyPart ?? "—") / \(i.viewPosition ?? "—") \(i.laterality ?? "")")
            line("Manufacturer", [i.manufacturer, i.manufacturerModel].compactMap { $0 }.joined(separator: " "))
            line("Institution", i.institution)
            line("Size", i.rows.map { "\($0) x \(i.columns ?? 0) x \(i.frames) frame(s), \(i.samplesPerPixel ?? 1) sample(s)" })
            line("Bits", i.bitsAllocated.map { "allocated \($0), stored \(i.bitsStored ?? 0), \(i.pixelRepresentation == 1 ? "signed" : "unsigned")" })
            line("Photometric", i.photometric)
            line("Window", i.windowCenter.map { "C \($0) W \(i.windowWidth ?? 0)" })
        }
        line("Transfer syntax", r.transferSyntaxUID.map { "\(TransferSyntax.name($0)) (\($0))" })
        if r.decoded {
            line("Decoded", "yes, as \(r.photometricDecoded ?? "?")")
            line("Frame 0 values", String(format: "min %g, max %g, mean %.4f (after the modality transform)",
                                          r.pixelMin ?? 0, r.pixelMax ?? 0, r.pixelMean ?? 0))
        } else {
            line("Decoded", "no: \(r.error ?? "unknown reason")")
        }
    }
}
