import Foundation
import XCTest

/// Where `make setup` unpacked the registry packages' data (.cache/data), found from this file.
enum TestData {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let dataRoot = repoRoot.appendingPathComponent(".cache/data")
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ relative: String) -> String { dataRoot.appendingPathComponent(relative).path }
    static func pydicom(_ name: String) -> String { path("pydicom/pydicom/data/test_files/\(name)") }
    static func pydicomData(_ name: String) -> String { path("pydicom-data/data_store/data/\(name)") }

    /// Fails the calling test (rather than skipping it) when setup has not run.
    static func require(file: StaticString = #filePath, line: UInt = #line) throws {
        guard FileManager.default.fileExists(atPath: pydicom("CT_small.dcm")) else {
            XCTFail("test data missing: run `make setup` first (expected \(dataRoot.path))", file: file, line: line)
            throw XCTSkip("no data")
        }
    }
}
