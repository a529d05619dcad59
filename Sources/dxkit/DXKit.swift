import ArgumentParser

/// The dxkit command line: parses arguments and calls the modules; no logic of its own.
@main
struct DXKit: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "dxkit",
        abstract: "DICOM ingestion, decoding and (soon) scoring, calibration and audits — no Python, no GPU.",
        version: version,
        subcommands: [Ingest.self, Inspect.self, ExportPNG.self, BenchDecode.self]
    )
}
