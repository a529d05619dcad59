import Foundation

/// Progress on standard error: a redrawn bar on a terminal, a log line every few seconds otherwise.
final class ProgressBar {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast
    private let label: String

    init(label: String) { self.label = label }

    func update(done: Int, total: Int, rate: Double, detail: String = "") {
        let now = Date()
        let interval = isTerminal ? 0.1 : 5.0
        guard now.timeIntervalSince(lastDraw) >= interval || done == total else { return }
        lastDraw = now
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let status = String(format: "%d/%d  %.1f/s  ETA %@  %@", done, total, rate, Self.duration(eta), Terminal.safe(detail))
        if isTerminal {
            let width = 30
            let filled = total > 0 ? min(width, width * done / total) : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write("\r\(label) \(bar) \(status)\u{1B}[K".data(using: .utf8)!)
        } else {
            FileHandle.standardError.write("\(label): \(status)\n".data(using: .utf8)!)
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 60 ? "\(t / 60)m\(String(format: "%02d", t % 60))s" : "\(t)s"
    }
}


