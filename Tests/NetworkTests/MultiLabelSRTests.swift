import DICOM
import Foundation
import GRDB
import XCTest

/// A multi-label head's SR (one coded finding per label) and heatmaps go into a real Orthanc, into
/// the study they report, once. The head is made here: a seeded linear head over mobilenet-v2's
/// pooled features (as PipelineTests' `MultiLabelFixture`, written with the safetensors format by
/// hand: this target has no Models module).
final class MultiLabelSRTests: XCTestCase {
    let chest = ["studies/chest/NORMAL2-IM-1427-0001.dcm", "studies/chest/person1946_bacteria_4874.dcm"].map(Tools.path)

    /// Writes `folder/chest-findings` (model.json + head.safetensors): classes Pneumonia, "", Effusion.
    static func writeHead(to folder: String) throws {
        let directory = "\(folder)/chest-findings", features = 1280, classes = ["Pneumonia", "", "Effusion"]
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var state: UInt64 = 7
        let w: [Float] = (0..<(classes.count * features)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1) * 0.08
        }
        let tensors: [(String, [Int], [Float])] = [("input_mean", [features], .init(repeating: 0, count: features)),
                                                   ("input_scale", [features], .init(repeating: 1, count: features)),
                                                   ("dense1.weight", [classes.count, features], w),
                                                   ("dense1.bias", [classes.count], [-0.2, 0, 0.1])]
        var header: [String: Any] = [:], body = Data(), offset = 0
        for (name, shape, values) in tensors {
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + values.count * 4]]
            values.withUnsafeBytes { body.append(contentsOf: $0) }
            offset += values.count * 4
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(body)
        let weights = "\(directory)/head.safetensors"
        try file.write(to: URL(fileURLWithPath: weights))
        let backbone = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Tools.path("models/mobilenet-v2/model.json")))) as! [String: Any]
        let card: [String: Any] = [
            "name": "chest-findings (test)", "head": "chest-findings", "backbone": "mobilenet-v2", "head_type": "linear",
            "architecture": backbone["architecture"]!, "batchnorm_epsilon": backbone["batchnorm_epsilon"]!, "input": backbone["input"]!,
            "classes": classes, "output": "sigmoid", "weights_sha256": try ContentHash.sha256(file: weights),
            "backbone_weights_sha256": backbone["weights_sha256"]!,
            "scoring": [
                "routing": ["accept_any": [["modality": ["CR", "DX"], "body_part": ["CHEST"]]]],
                "aggregation": ["rule": "max"],
                "findings": [["name": "Pneumonia", "threshold": 0.5, "code": ["value": "233604007", "scheme": "SCT", "meaning": "Pneumonia"]],
                             ["name": "Effusion", "threshold": 0.4]],
            ],
        ]
        try JSONSerialization.data(withJSONObject: card, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: "\(directory)/model.json"))
    }

    func testMultiLabelSRGoesIntoOrthanc() throws {
        let orthanc = try Orthanc(modalities: [:])
        defer { orthanc.stop() }
        let dir = try Tools.temporaryFolder("multilabel-sr")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.writeHead(to: "\(dir)/heads")
        try FileManager.default.createDirectory(atPath: "\(dir)/in", withIntermediateDirectories: true)
        for file in chest { try FileManager.default.copyItem(atPath: file, toPath: "\(dir)/in/\(URL(fileURLWithPath: file).lastPathComponent)") }
        let run = try Tools.dxkit(["run", "\(dir)/in", "--out", "\(dir)/out", "--db", "\(dir)/db.sqlite", "--models-dir", "\(dir)/heads"],
                                  environment: ["DXKIT_MODELS": Tools.path("models")])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let objects = Tools.dicomFiles(in: "\(dir)/out")
        XCTAssertEqual(objects.filter { $0.hasSuffix("sr.dcm") }.count, 2, "\(objects)")
        let send = try Tools.dxkit(["send", "--to", orthanc.peer] + objects)
        XCTAssertEqual(send.status, 0, send.stdout + send.stderr)
        let db = try DatabaseQueue(path: "\(dir)/db.sqlite")
        for file in chest {
            let study = try Instance(file: DicomFile(path: file)).studyInstanceUID!
            let sr = try orthanc.series(ofStudy: study).filter { $0.modality == "SR" }
            XCTAssertEqual(sr.count, 1, "one SR series in study \(study)")
            let recorded = try db.read {
                try String.fetchAll($0, sql: "SELECT sop_instance_uid FROM dicom_outputs WHERE study_instance_uid = ? AND kind = 'sr'", arguments: [study])
            }
            XCTAssertEqual(sr.first?.sopInstanceUIDs, recorded)
            let path = objects.first { $0.hasSuffix("sr.dcm") && $0.contains(SafeName.file(study)) }!
            let dump = try Tools.run("dsrdump", [path]).stdout
            XCTAssertTrue(dump.contains("(233604007,SCT,\"Pneumonia\")"), dump)
            XCTAssertTrue(dump.contains("99DXKIT,\"Effusion\")"), dump)
            let decisions = try db.read {
                try Row.fetchAll($0, sql: """
                    SELECT r.finding, r.decision FROM results r JOIN instances i ON i.id = r.instance_ref WHERE i.study_instance_uid = ?
                    """, arguments: [study])
            }
            XCTAssertEqual(decisions.count, 2)
            for d in decisions {
                let value = (d["decision"] as String) == "present" ? "(52101004,SCT,\"Present\")" : "(2667000,SCT,\"Absent\")"
                XCTAssertTrue(dump.contains("\"\(d["finding"] as String)\")=\(value)"), "\(d): \(dump)")
            }
            let check = try Tools.run("dciodvfy", [path])
            XCTAssertEqual((check.stdout + check.stderr).split(separator: "\n").filter { $0.hasPrefix("Error") }, [])
        }
    }
}
