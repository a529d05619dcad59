import Foundation
import XCTest

/// Programs the network tests run: the built `dxkit`, DCMTK's tools, the repository's scripts.
enum Tools {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var dxkit: String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [besideTests, besideTests.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("dxkit")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url.path }
        }
        return repo.appendingPathComponent(".build/debug/dxkit").path
    }

    static func path(_ relative: String) -> String { repo.appendingPathComponent(relative).path }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a program to completion (`environment` adds to this process's).
    @discardableResult
    static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
        p.arguments = program.hasPrefix("/") ? arguments : [program] + arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func dxkit(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        try run(dxkit, arguments, environment: environment)
    }

    static func python(_ arguments: [String]) throws -> Result {
        try run(path(".venv/bin/python"), arguments)
    }

    /// A TCP port nothing listens on now (bound to port 0, read back, closed), never one this process
    /// handed out before (two servers of one test must not get the same port).
    static func freePort() -> Int {
        given.lock()
        defer { given.unlock() }
        while true {
            let port = anyFreePort()
            if !givenPorts.contains(port) {
                givenPorts.insert(port)
                return port
            }
        }
    }

    private static let given = NSLock()
    nonisolated(unsafe) private static var givenPorts: Set<Int> = []

    private static func anyFreePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until `condition` holds, checking every 0.25 s, at most `limit` seconds; fails the test
    /// with `what` otherwise. (A bound on waiting for a server, not a timing assertion.)
    @discardableResult
    static func waitUntil(_ what: String, limit: Double = 180, file: StaticString = #filePath, line: UInt = #line,
                          _ condition: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(limit)
        while Date() < end {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.25)
        }
        XCTFail("gave up waiting (\(Int(limit)) s) for: \(what)", file: file, line: line)
        return false
    }

    static func temporaryFolder(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "dxkit-net-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func dicomFiles(in folder: String) -> [String] {
        let folder = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
        let e = FileManager.default.enumerator(atPath: folder)
        var out: [String] = []
        while let name = e?.nextObject() as? String {
            if name.hasSuffix(".dcm") && !name.contains(".incoming") { out.append("\(folder)/\(name)") }
        }
        return out.sorted()
    }
}

/// `dxkit listen` running in the background, its log in a file.
final class Listener {
    let process = Process()
    let log: String
    let port: Int

    init(port: Int, arguments: [String], log: String, environment: [String: String] = [:]) throws {
        self.port = port
        self.log = log
        FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: Tools.dxkit)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.arguments = ["listen", "--port", String(port), "--models-dir", Tools.path("models")] + arguments
        let handle = FileHandle(forWritingAtPath: log)!
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        Tools.waitUntil("dxkit listen answering C-ECHO on port \(port)") {
            guard process.isRunning else { return true }
            return (try? Tools.run("echoscu", ["-aec", "DXKIT", "127.0.0.1", String(port)]).status) == 0
        }
        XCTAssertTrue(process.isRunning, "dxkit listen exited: \(text)")
    }

    var text: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func kill9() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
