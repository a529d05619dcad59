import ArgumentParser
import Pipeline
import DICOM
import Foundation

/// The dxkit command line: parses arguments and calls the modules; no logic of its own.
@main
struct DXKit: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "dxkit",
        abstract: "DICOM ingestion, scoring, transfer learning, calibration, bias audits and reports — no Python, no GPU.",
        version: version,
        subcommands: [Run.self, Listen.self, Send.self, Query.self, Retrieve.self, Ingest.self, Score.self, Report.self, Train.self,
                      Metrics.self, Calibrate.self, RecalibrateResults.self, Audit.self, AuditDataset.self, Merge.self, Export.self,
                      Inspect.self, ExportPNG.self, Classify.self, ImportModel.self, BenchDecode.self, BenchModels.self, BenchTrain.self]
    )

    /// Frames are tens of megabytes: keep freed blocks in the heap for reuse instead of returning
    /// them to the kernel (glibc would mmap and unmap each one, paying page faults every frame).
    static func main() {
        DecodingMemory.keepFreedBlocks()
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch {
            // The parser's own outcomes (help, validation, an explicit exit code) keep their meaning.
            // Anything else that stops a command (a read-only or full disk, a database that cannot
            // be written) is fatal: exit 2, as documented, never 1 (which means "some files failed").
            if error is ExitCode || exitCode(for: error) != .failure { exit(withError: error) }
            printError("dxkit: \(error)")
            Foundation.exit(2)
        }
    }
}
