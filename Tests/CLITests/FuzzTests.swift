import Foundation
import XCTest

/// Issue 12's fuzzer as a test: 300 entries made by the committed generator (scripts/fuzz_corpus.py, seed 12)
/// go through batch `ingest`, `inspect --json` (200 of them, spread evenly) and batch `run` of the built dxkit,
/// each process under a 4 GB address-space limit and a time-out (scripts/fuzz.py). Fails on any crash, hang,
/// exit status outside {0, 1}, unaccounted entry, failed integrity check or other violation the harness
/// reports; the harness's summary (crashes grouped by cause, one example file each) is the failure message.
final class FuzzTests: XCTestCase {
    func testNoFileStopsTheBatch() throws {
        let python = CLI.repo.appendingPathComponent(".venv/bin/python").path
        for needed in [python, CLI.repo.appendingPathComponent("models/xception-pneumonia/model.json").path,
                       CLI.repo.appendingPathComponent("studies/chest").path] where !FileManager.default.fileExists(atPath: needed) {
            XCTFail("\(needed) missing: run `make setup` first")
            throw XCTSkip("no \(needed)")
        }
        try CLI.requireData()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-fuzz-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let scripts = CLI.repo.appendingPathComponent("scripts")
        let corpus = dir.appendingPathComponent("corpus").path

        let made = try run(python, [scripts.appendingPathComponent("fuzz_corpus.py").path,
                                    "--seed", "12", "--count", "300", "--out", corpus])
        XCTAssertEqual(made.status, 0, made.output)
        guard made.status == 0 else { return }
        // No re-runs without the culprits (`make fuzz` does those); 60 s per file: the debug build decodes slowly.
        let fuzz = try run(python, [scripts.appendingPathComponent("fuzz.py").path, "--dxkit", CLI.binary.path,
                                    "--corpus", corpus, "--work", dir.appendingPathComponent("work").path,
                                    "--jobs", "2", "--timeout", "60", "--batch-timeout", "180", "--rounds", "1",
                                    "--triage-max", "20", "--inspect-sample", "200", "--as-limit-mb", "4096"])
        XCTAssertEqual(fuzz.status, 0, "scripts/fuzz.py found violations:\n" + String(fuzz.output.suffix(8000)))
        if fuzz.status == 0 { XCTAssertTrue(fuzz.output.contains("fuzz: ok"), String(fuzz.output.suffix(2000))) }
    }

    /// Runs a program to completion, stdout and stderr together.
    func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
