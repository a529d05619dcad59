import ArgumentParser
import Foundation
import Pipeline

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send DICOM files to a PACS: C-STORE (--to AE@HOST:PORT) or STOW-RS (--dicomweb URL).",
        discussion: """
            Each file goes in its own transfer syntax, with Explicit/Implicit VR Little Endian proposed as fallback \
            (converted when the peer takes only those). DICOMweb credentials come from DXKIT_DICOMWEB_TOKEN or \
            DXKIT_DICOMWEB_USER/DXKIT_DICOMWEB_PASSWORD, never from the command line. Exit status 1 when some files \
            were refused, 2 when nothing could be sent.
            """)

    @Argument(help: "DICOM files or folders.") var paths: [String]
    @Option(help: "The PACS, AE@HOST:PORT.") var to: String?
    @Option(help: "DICOMweb root, e.g. http://pacs:8042/dicom-web.") var dicomweb: String?
    @OptionGroup var ae: AETitleOption
    @Flag(help: "One line per file.") var verbose = false

    func run() throws {
        let summary: SendSummary
        do {
            let endpoint = try NetworkEndpoint.make(peer: to, dicomweb: dicomweb, aeTitle: ae.aeTitle, option: "--to")
            summary = try SendJob(endpoint: endpoint).run(paths: paths)
            print(String(format: "%d files: %d sent, %d refused, %d skipped (not DICOM) to %@; %.1f files/s",
                         summary.files, summary.sent, summary.failed, summary.skipped.count, endpoint.name,
                         summary.seconds > 0 ? Double(summary.sent) / summary.seconds : 0))
        } catch {
            throw networkFailure("send", error)
        }
        for o in summary.outcomes where verbose || !o.sent {
            printSafe("\(o.sent ? "sent" : "refused"): \(o.path) \(o.sopInstanceUID)\(o.message.isEmpty ? "" : ": \(o.message)")")
        }
        if summary.failed > 0 { throw ExitCode(summary.sent == 0 ? 2 : 1) }
    }
}
