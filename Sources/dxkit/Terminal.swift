import ArgumentParser
import DICOM
import Foundation

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
