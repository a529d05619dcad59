import Foundation
import XCTest

/// Runs the built `dxkit` binary (next to the test bundle in .build/<config>/).
enum CLI {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static var binary: URL {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [besideTests, besideTests.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("dxkit")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return repo.appendingPathComponent(".build/debug/dxkit")
    }

    static func data(_ relative: String) -> String { repo.appendingPathComponent(".cache/data/\(relative)").path }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs dxkit to completion.
    static func run(_ arguments: [String]) throws -> Result {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    static func requireData() throws {
        guard FileManager.default.fileExists(atPath: data("pydicom-data/data_store/data/RG1_UNCI.dcm")) else {
            XCTFail("test data missing: run `make setup`")
            throw XCTSkip("no data")
        }
    }
}
