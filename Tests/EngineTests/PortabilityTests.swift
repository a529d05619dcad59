import Foundation
import XCTest

/// The C kernels build for other targets than the one this machine runs: aarch64 with Debian's
/// cross compiler (gcc-aarch64-linux-gnu; the portable path alone, no x86 code) and x86-64 with
/// gcc (every path, the per-function target regions in gcc's spelling), warnings as errors.
final class PortabilityTests: XCTestCase {
    static let kernels = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/CKernels")

    /// `compiler` on every C file of CKernels; fails with its messages, skips when it is not installed.
    func compileKernels(with compiler: String, _ flags: [String] = []) throws {
        guard let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":")
            .map({ "\($0)/\(compiler)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw XCTSkip("\(compiler) not installed (apt-get install gcc-aarch64-linux-gnu)") }
        let sources = try FileManager.default.contentsOfDirectory(atPath: Self.kernels.path).filter { $0.hasSuffix(".c") }.sorted()
        XCTAssertGreaterThan(sources.count, 5)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-cross-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        // All at once (-O1: the target regions and intrinsics are checked as at -O2, in less time).
        let runs = try sources.map { source -> (String, Process, Pipe) in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = ["-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-I", Self.kernels.appendingPathComponent("include").path]
                + flags + ["-c", Self.kernels.appendingPathComponent(source).path, "-o", out.appendingPathComponent(source + ".o").path]
            let pipe = Pipe()
            p.standardError = pipe
            p.standardOutput = pipe
            try p.run()
            return (source, p, pipe)
        }
        for (source, p, pipe) in runs {
            let messages = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "\(compiler) \(source): \(messages)")
        }
    }

    func testKernelsCompileForAArch64() throws { try compileKernels(with: "aarch64-linux-gnu-gcc") }

    func testKernelsCompileWithGCCForX86() throws {
        #if arch(x86_64)
        try compileKernels(with: "gcc")
        #else
        throw XCTSkip("not an x86-64 machine")
        #endif
    }
}
