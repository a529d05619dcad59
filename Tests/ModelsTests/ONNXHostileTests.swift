import Foundation
@testable import Models
import XCTest

/// Hostile ONNX files made from the operation zoo by editing its protobuf: each must be refused with
/// a `ModelError` that names the file (and the node or tensor), before anything is allocated for
/// the absurd sizes they claim.
final class ONNXHostileTests: XCTestCase {
    func zoo() throws -> (Onnx_ModelProto, String) {
        _ = try ONNXImportTests.manifest()
        let path = "\(ONNXImportTests.folder)/zoo-opset17.onnx"
        return (try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: path))), path)
    }

    func assertRefused(_ model: Onnx_ModelProto, _ path: String, mentioning words: [String], _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let data: Data = try model.serializedBytes()
        XCTAssertThrowsError(try ONNXImporter.read(data: data, file: path), what, file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is ModelError, text, file: file, line: line)
            for w in words + [path] { XCTAssertTrue(text.contains(w), "\(what): \(text) does not mention \(w)", file: file, line: line) }
        }
    }

    func index(_ model: Onnx_ModelProto, initializer name: String) -> Int {
        model.graph.initializer.firstIndex { $0.name == name }!
    }

    func testMissingInitializer() throws {
        var (m, path) = try zoo()
        m.graph.initializer.remove(at: index(m, initializer: "g1.w"))
        try assertRefused(m, path, mentioning: ["grouped_dilated", "g1.w"], "missing weight")
    }

    func testRawDataLengthMismatch() throws {
        var (m, path) = try zoo()
        let i = index(m, initializer: "c1.w")
        m.graph.initializer[i].rawData = m.graph.initializer[i].rawData.dropLast(4)
        try assertRefused(m, path, mentioning: ["c1.w", "raw data"], "short raw data")
    }

    func testWrongTensorSize() throws {
        var (m, path) = try zoo()
        let i = index(m, initializer: "gm.c")
        m.graph.initializer[i].dims = [m.graph.initializer[i].dims[0] - 1]
        m.graph.initializer[i].rawData = m.graph.initializer[i].rawData.dropLast(4)
        try assertRefused(m, path, mentioning: ["gemm"], "bias of the wrong size")
    }

    func testAbsurdDims() throws {
        var (m, path) = try zoo()
        let i = index(m, initializer: "c1.w")
        m.graph.initializer[i].dims = [1 << 40, 1 << 40, 3, 4]
        try assertRefused(m, path, mentioning: ["c1.w"], "dims of 2^80 values")
        m.graph.initializer[i].dims = [-8, 3, 4, 4]
        try assertRefused(m, path, mentioning: ["c1.w"], "negative dim")
    }

    func testExternalData() throws {
        var (m, path) = try zoo()
        let i = index(m, initializer: "c1.w")
        var entry = Onnx_StringStringEntryProto()
        entry.key = "location"
        entry.value = "../../etc/passwd"
        m.graph.initializer[i].externalData = [entry]
        m.graph.initializer[i].dataLocation = .external
        m.graph.initializer[i].clearRawData()
        try assertRefused(m, path, mentioning: ["c1.w", "outside the file"], "external data")
    }

    func testUnsupportedOpset() throws {
        var (m, path) = try zoo()
        m.opsetImport[0].version = 11
        try assertRefused(m, path, mentioning: ["opset 11"], "opset 11")
        m.opsetImport[0].version = 21
        try assertRefused(m, path, mentioning: ["opset 21"], "opset 21")
    }

    func testAbsurdAttributes() throws {
        var (m, path) = try zoo()
        let conv = m.graph.node.firstIndex { $0.name == "grouped_dilated" }!
        let a = m.graph.node[conv].attribute.firstIndex { $0.name == "dilations" }!
        m.graph.node[conv].attribute[a].ints = [Int64.min, 2]
        try assertRefused(m, path, mentioning: ["grouped_dilated"], "dilation Int64.min")
        m.graph.node[conv].attribute[a].ints = [1 << 20, 1 << 20]
        try assertRefused(m, path, mentioning: ["grouped_dilated"], "dilation 2^20")
    }

    func testNodeReadingAValueNeverMade() throws {
        var (m, path) = try zoo()
        let i = m.graph.node.firstIndex { $0.name == "hardswish" }!
        m.graph.node[i].input = ["nowhere"]
        try assertRefused(m, path, mentioning: ["hardswish", "nowhere"], "dangling input")
    }
}
