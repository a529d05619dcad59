import ArgumentParser
import DICOM

/// The dxkit command line: parses arguments and calls the modules; no logic of its own.
@main
struct DXKit: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "dxkit",
        abstract: "DICOM ingestion, decoding and (soon) scoring, calibration and audits — no Python, no GPU.",
        version: version,
        subcommands: [Run.self, Ingest.self, Score.self, Report.self, Train.self, Metrics.self, Calibrate.self, RecalibrateResults.self, Audit.self, AuditDataset.self, Inspect.self, ExportPNG.self, Classify.self, BenchDecode.self, BenchModels.self, BenchTrain.self]
    )

    /// Frames are tens of megabytes: keep freed blocks in the heap for reuse instead of returning
    /// them to the kernel (glibc would mmap and unmap each one, paying page faults every frame).
    static func main() {
        DecodingMemory.keepFreedBlocks()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
