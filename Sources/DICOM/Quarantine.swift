import CCrashGuard
import Foundation

/// Files that made dxkit die. Workers read each file inside `reading(_:)`; if the process then
/// dies of a fatal signal (a bug or a runtime trap in decoding), the signal handler names the
/// file on standard error and appends its path to the quarantine log, a text file beside the
/// database. The next run reads the log (`pending`), records each listed file as an error of its
/// own instead of reading it again, and `resolve`s the entries — so one bad file can never stop
/// every later batch. A file is tried again once it changes (its stored stamp no longer matches).
public struct Quarantine: Sendable {
    /// The log: one path per line.
    public let log: String

    /// The log beside a database file.
    public init(database: String) {
        log = URL(fileURLWithPath: database).standardizedFileURL.path + ".quarantine"
    }

    public static let reason = "dxkit crashed (fatal signal) while reading this file in an earlier run; it is quarantined and not read again until it changes"

    /// Starts naming files in this process's fatal-signal message and log.
    public func install() { _ = dx_guard_install(log) }

    /// Runs `body` with `path` as this thread's current file.
    public static func reading<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        dx_guard_enter(path)
        defer { dx_guard_leave() }
        if let needle = crashNeedle, path.contains(needle) {
            fatalError("DXKIT_TEST_CRASH_ON: a deliberate crash, to test the quarantine")
        }
        return try body()
    }

    /// Tests only: a process started with DXKIT_TEST_CRASH_ON=TEXT dies reading any file whose
    /// path contains TEXT, as a decoder bug would (there is no other way to test a real crash).
    static let crashNeedle: String? = ProcessInfo.processInfo.environment["DXKIT_TEST_CRASH_ON"].flatMap { $0.isEmpty ? nil : $0 }

    /// Paths the log lists.
    public func pending() -> Set<String> {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [] }
        return Set(text.split(separator: "\n").map(String.init).filter { !$0.isEmpty })
    }

    /// Removes `paths` from the log once they are recorded as errors (the log is rewritten whole;
    /// deleted when empty).
    public func resolve(_ paths: Set<String>) {
        guard !paths.isEmpty else { return }
        let left = pending().subtracting(paths)
        if left.isEmpty {
            try? FileManager.default.removeItem(atPath: log)
        } else {
            try? (left.sorted().joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        }
    }
}
