import Foundation
import XCTest

/// The C kernels build for other targets than the one this machine runs: aarch64 with Debian's
/// cross compiler (gcc-aarch64-linux-gnu; the portable path alone, no x86 code) and x86-64 with
/// gcc (every path, the per-function target regions in gcc's spelling), warnings as errors; and
/// the aarch64 build computes what textbook loops do (Sources/CKernels/check/kernel_check.c, run
/// under qemu-aarch64 from Debian's qemu-user).
final class PortabilityTests: XCTestCase {
    static let kernels = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/CKernels")

    /// `name`'s path on PATH, or nil.
    static func tool(_ name: String) -> String? {
        ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `path` with `arguments`; its exit status and everything it printed.
    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardError = pipe
        p.standardOutput = pipe
        try p.run()
        let messages = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, messages)
    }

    /// `compiler` on every C file of CKernels; fails with its messages, skips when it is not installed.
    func compileKernels(with compiler: String, _ flags: [String] = []) throws {
        guard let path = Self.tool(compiler)
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

    /// The kernels and kernel_check.c linked statically for aarch64 and run under qemu: every
    /// kernel's portable path against textbook loops (and a GEMM row alone against its batch).
    func testPortableKernelsComputeRightOnAArch64() throws {
        guard let gcc = Self.tool("aarch64-linux-gnu-gcc") else { throw XCTSkip("aarch64-linux-gnu-gcc not installed") }
        guard let qemu = Self.tool("qemu-aarch64") else { throw XCTSkip("qemu-aarch64 not installed (apt-get install qemu-user)") }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-qemu-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        let include = ["-I", Self.kernels.appendingPathComponent("include").path]
        // The checker at -O1: Debian's gcc 12 for aarch64 stops with an internal error vectorising its main at -O2.
        let main = out.appendingPathComponent("kernel_check.o").path
        var (status, messages) = try Self.run(gcc, ["-std=gnu11", "-O1"] + include
            + ["-c", Self.kernels.appendingPathComponent("check/kernel_check.c").path, "-o", main])
        XCTAssertEqual(status, 0, messages)
        let sources = try FileManager.default.contentsOfDirectory(atPath: Self.kernels.path).filter { $0.hasSuffix(".c") }
            .map { Self.kernels.appendingPathComponent($0).path }
        let binary = out.appendingPathComponent("kernel_check").path
        (status, messages) = try Self.run(gcc, ["-std=gnu11", "-O2", "-static"] + include + [main] + sources
            + ["-lpthread", "-lm", "-o", binary])
        XCTAssertEqual(status, 0, messages)
        guard status == 0 else { return }
        (status, messages) = try Self.run(qemu, [binary])
        XCTAssertEqual(status, 0, messages)
        XCTAssertTrue(messages.contains("kernel_check: isa generic ok"), messages)
    }

    func testKernelsCompileWithGCCForX86() throws {
        #if arch(x86_64)
        try compileKernels(with: "gcc")
        #else
        throw XCTSkip("not an x86-64 machine")
        #endif
    }
}
