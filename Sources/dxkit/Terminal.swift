import ArgumentParser
import Pipeline
import DICOM
import Foundation
import Models

/// Text bound for the terminal. Values from DICOM files (UIDs, names, paths, DCMTK's reasons)
/// are untrusted: control characters in them (ESC sequences could retitle or reprogram the
/// terminal) are shown as `\u{…}` escapes, never written raw.
enum Terminal {
    static func safe(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v == 0x0A || v == 0x09 || (v >= 0x20 && v < 0x7F) || (v >= 0xA0 && !(0x2028...0x2029).contains(v) && !(0x202A...0x202E).contains(v) && !(0x2066...0x2069).contains(v)) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{" + String(v, radix: 16) + "}"
            }
        }
        return out
    }
}

/// Writes a line to standard error, control characters escaped.
func printError(_ text: String) {
    FileHandle.standardError.write((Terminal.safe(text) + "\n").data(using: .utf8)!)
}

/// Writes a line to standard output, control characters escaped.
func printSafe(_ text: String) {
    print(Terminal.safe(text))
}

/// How much one file may make dxkit decode (`--max-pixels`, `--max-memory`).
struct DecodeLimitOptions: ParsableArguments {
    @Option(help: "Largest frame (Rows x Columns) decoded; larger files become error rows.")
    var maxPixels = DecodeLimits.standard.maxPixelsPerFrame

    @Option(help: "Memory (MiB) one frame's decode may take; default half of RAM or of ulimit -v.")
    var maxMemory = DecodeLimits.defaultMemory >> 20

    func validate() throws {
        guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be at least 1") }
        guard maxMemory >= 1 else { throw ValidationError("--max-memory must be at least 1 (MiB)") }
    }

    var limits: DecodeLimits {
        DecodeLimits(maxPixelsPerFrame: maxPixels, maxDecodeBytes: maxMemory.multipliedReportingOverflow(by: 1 << 20).overflow ? Int.max : maxMemory << 20)
    }
}

/// Where models are found (`--models-dir`, repeatable), shared by every command that needs them.
struct ModelOptions: ParsableArguments {
    @Option(name: .customLong("models-dir"),
            help: "A folder of models, searched first (repeatable). Then DXKIT_MODELS (colon-separated), the install location (<prefix>/share/dxkit/models) and ./models.")
    var modelsDirs: [String] = []

    func search() throws -> ModelSearch { try ModelSearch(explicit: modelsDirs) }

    /// The model folder called `name`, or a clear error saying where dxkit looked.
    func folder(named name: String) throws -> String {
        let search = try search()
        guard let folder = search.folder(named: name) else {
            throw ModelError(file: name, reason: "no model folder \(name) found; looked in \(search.lookedDescription) (run `make setup`, or `make install`, or pass --models-dir)")
        }
        return folder
    }
}

/// JSON printed by `--json` flags: keys sorted, slashes unescaped.
enum JSONOutput {
    static func string<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A stored audit as `--json` prints it.
struct StoredAudit<Result: Encodable>: Encodable {
    var auditID: Int64
    var results: Result
    enum CodingKeys: String, CodingKey { case auditID = "audit_id", results }
}
