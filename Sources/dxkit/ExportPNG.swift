import ArgumentParser
import Pipeline
import DICOM
import Imaging

struct ExportPNG: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-png",
        abstract: "Write one frame as a windowed 8-bit or a 16-bit PNG.",
        discussion: """
            Monochrome frames go through the window given, else the file's first window or VOI LUT, else the \
            frame's full range; MONOCHROME1 is inverted so that the PNG shows bone bright. Negative centres: --window=-600,1500.
            """)

    @Argument(help: "A DICOM file.")
    var file: String

    @Option(help: "Frame number, from 0.")
    var frame = 0

    @Option(help: "Window centre and width, as C,W.")
    var window: String?

    @Option(help: "Bits per sample in the PNG: 8 or 16.")
    var depth = 8

    @Flag(help: "Keep MONOCHROME1 as stored (dark bone) instead of inverting it.")
    var noInvert = false

    @Option(help: "PNG file to write.")
    var out: String

    func validate() throws {
        guard depth == 8 || depth == 16 else { throw ValidationError("--depth must be 8 or 16") }
        if let window { _ = try parseWindow(window) }
    }

    func parseWindow(_ text: String) throws -> VOITransform {
        let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let c = parts[0], let w = parts[1], c.isFinite, w.isFinite, w >= 1 else {
            throw ValidationError("--window takes centre,width with width >= 1, e.g. 40,400")
        }
        return .window(center: c, width: w, function: .linear)
    }

    func run() throws {
        do {
            let image = try DicomImage(path: file)
            let voi = try window.map(parseWindow)
            let display = try image.displayFrame(frame, window: voi, invertMonochrome1: !noInvert)
            try PNGFile.write(display, bitDepth: depth, to: out)
            printSafe("wrote \(out): \(display.width)x\(display.height), \(display.channels == 3 ? "RGB" : "grey"), \(depth)-bit")
        } catch {
            printError("dxkit export-png: \(error)")
            throw ExitCode(1)
        }
    }
}
