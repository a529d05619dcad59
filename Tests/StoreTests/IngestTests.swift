import DICOM
import Foundation
@testable import Pipeline
import GRDB
@testable import Store
import XCTest

/// Ingest into a fresh index: contents, idempotence, changed and duplicate files, broken files.
final class IngestTests: XCTestCase {
    var dir: URL!
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    func data(_ relative: String) -> String { repo.appendingPathComponent(".cache/data/\(relative)").path }
    var pydicomData: String { data("pydicom-data/data_store/data") }
    var pydicomFiles: String { data("pydicom/pydicom/data/test_files") }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: pydicomData) else {
            XCTFail("test data missing: run `make setup`")
            throw XCTSkip("no data")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-ingest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("in/sub"), withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func copy(_ source: String, _ name: String) throws {
        try FileManager.default.copyItem(atPath: source, toPath: dir.appendingPathComponent("in/\(name)").path)
    }

    func ingest(_ db: IndexDatabase) throws -> IngestSummary {
        try IngestJob(database: db, jobs: 2).run(paths: [dir.appendingPathComponent("in").path])
    }

    func testIndexesFilesWithTheirAttributesAndHierarchy() throws {
        try copy("\(pydicomData)/RG1_UNCI.dcm", "RG1")               // no suffix
        try copy("\(pydicomData)/RG3_UNCR.dcm", "sub/rg3.dcm")
        try copy("\(pydicomFiles)/CT_small.dcm", "sub/ct.dcm")
        try copy("\(pydicomFiles)/MR_small.dcm", "mr.dcm")
        try "notes".write(to: dir.appendingPathComponent("in/README.txt"), atomically: true, encoding: .utf8)
        let db = try IndexDatabase(path: dir.appendingPathComponent("index.sqlite").path)
        let s = try ingest(db)
        XCTAssertEqual(s.seen, 5)
        XCTAssertEqual(s.ingested, 4)
        XCTAssertEqual(s.skipped, 1)
        XCTAssertEqual(s.failed, 0)
        try db.queue.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM instances WHERE status = 'ok'"), 4)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM studies"), 4)
            let rg1 = try Row.fetchOne(db, sql: "SELECT * FROM instances WHERE path LIKE '%/RG1'")!
            let expected = try Instance(file: DicomFile(path: "\(pydicomData)/RG1_UNCI.dcm"))
            XCTAssertEqual(rg1["sop_instance_uid"], expected.sopInstanceUID)
            XCTAssertEqual(rg1["modality"], "CR")
            XCTAssertEqual(rg1["sex"], "F")
            XCTAssertEqual(rg1["age_years"], 64.0)
            XCTAssertEqual(rg1["view_position"], "PA")
            XCTAssertEqual(rg1["photometric"], "MONOCHROME1")
            XCTAssertEqual(rg1["rows"], 1955)
            XCTAssertEqual(rg1["columns"], 1841)
            XCTAssertEqual(rg1["bits_stored"], 15)
            XCTAssertEqual(rg1["transfer_syntax"], "1.2.840.10008.1.2.1")
            XCTAssertEqual(rg1["window_center"], 15000.0)
            XCTAssertEqual(rg1["content_sha256"], try ContentHash.sha256(file: "\(pydicomData)/RG1_UNCI.dcm"))
            let sizeOnDisk = try FileManager.default.attributesOfItem(atPath: "\(pydicomData)/RG1_UNCI.dcm")[.size] as! NSNumber
            XCTAssertEqual(rg1["file_size"], sizeOnDisk.int64Value)
            let patient = try String.fetchOne(db, sql: """
                SELECT p.patient_id FROM instances i JOIN series s ON i.series_ref = s.id
                JOIN studies st ON s.study_ref = st.id JOIN patients p ON st.patient_ref = p.id WHERE i.path LIKE '%/RG1'
                """)
            XCTAssertEqual(patient, expected.patientID)
        }
    }

    func testReingestAddsNothingAndChangedFilesAreUpdated() throws {
        try copy("\(pydicomFiles)/CT_small.dcm", "a.dcm")
        try copy("\(pydicomFiles)/MR_small.dcm", "b.dcm")
        let db = try IndexDatabase(path: dir.appendingPathComponent("index.sqlite").path)
        XCTAssertEqual(try ingest(db).ingested, 2)
        let again = try ingest(db)
        XCTAssertEqual(again.ingested, 0)
        XCTAssertEqual(again.unchanged, 2)
        // Replace b.dcm with another image: the row is updated, not duplicated.
        let b = dir.appendingPathComponent("in/b.dcm").path
        try FileManager.default.removeItem(atPath: b)
        try FileManager.default.copyItem(atPath: "\(pydicomData)/RG3_UNCR.dcm", toPath: b)
        let changed = try ingest(db)
        XCTAssertEqual(changed.ingested, 1)
        XCTAssertEqual(changed.unchanged, 1)
        let rows = try db.queue.read { try Row.fetchAll($0, sql: "SELECT path, sop_instance_uid FROM instances") }
        XCTAssertEqual(rows.count, 2)
        let rg3 = try Instance(file: DicomFile(path: "\(pydicomData)/RG3_UNCR.dcm")).sopInstanceUID
        XCTAssertTrue(rows.contains { $0["path"] == b && $0["sop_instance_uid"] == rg3 })
    }

    func testDuplicateSOPInstanceUIDIsRecorded() throws {
        try copy("\(pydicomFiles)/CT_small.dcm", "first.dcm")
        try copy("\(pydicomFiles)/CT_small.dcm", "sub/second.dcm")
        let db = try IndexDatabase(path: dir.appendingPathComponent("index.sqlite").path)
        let s = try ingest(db)
        XCTAssertEqual(s.ingested, 2)
        XCTAssertEqual(s.duplicates, 1)
        let rows = try db.queue.read {
            try Row.fetchAll($0, sql: "SELECT id, path, duplicate_of FROM instances ORDER BY id")
        }
        XCTAssertEqual(rows.count, 2)
        XCTAssertNil(rows[0]["duplicate_of"] as Int64?)
        XCTAssertEqual(rows[1]["duplicate_of"] as Int64?, rows[0]["id"] as Int64?)
    }

    func testBrokenFilesBecomeErrorRowsAndKeepWhatIsStored() throws {
        try copy("\(pydicomFiles)/CT_small.dcm", "good.dcm")
        let db = try IndexDatabase(path: dir.appendingPathComponent("index.sqlite").path)
        XCTAssertEqual(try ingest(db).ingested, 1)
        try copy("\(pydicomFiles)/MR_truncated.dcm", "truncated.dcm")
        try copy("\(pydicomFiles)/rtplan_truncated.dcm", "rtplan.dcm")
        try "not dicom at all, but named so".write(to: dir.appendingPathComponent("in/fake.dcm"), atomically: true, encoding: .utf8)
        // A good file cut in half.
        let whole = try Data(contentsOf: URL(fileURLWithPath: "\(pydicomData)/RG3_UNCR.dcm"))
        try whole.prefix(whole.count / 2).write(to: dir.appendingPathComponent("in/half.dcm"))
        let s = try ingest(db)
        XCTAssertEqual(s.failed, 4)
        XCTAssertEqual(s.unchanged, 1)
        XCTAssertEqual(Set(s.failures.map { URL(fileURLWithPath: $0.path).lastPathComponent }),
                       ["truncated.dcm", "rtplan.dcm", "fake.dcm", "half.dcm"])
        try db.queue.read { db in
            let errors = try Row.fetchAll(db, sql: "SELECT path, error FROM instances WHERE status = 'error'")
            XCTAssertEqual(errors.count, 4)
            for row in errors { XCTAssertFalse((row["error"] as String? ?? "").isEmpty) }
            let half = errors.first { ($0["path"] as String).hasSuffix("half.dcm") }
            XCTAssertNotNil(half)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM instances WHERE status = 'ok'"), 1)
        }
        // Unchanged broken files stay failing on the next run, and are reported again.
        let again = try ingest(db)
        XCTAssertEqual(again.stillFailing, 4)
        XCTAssertEqual(again.failures.count, 4)
    }
}

/// The queue between decoding workers and inference keeps nothing it has handed out: `dxkit run`
/// memory stays flat in the number of images (it kept up to 1,024 prepared images alive before).
final class WorkQueueTests: XCTestCase {
    final class Tracked {
        static var alive = 0
        init() { Tracked.alive += 1 }
        deinit { Tracked.alive -= 1 }
    }

    func testTakenElementsAreReleased() {
        let queue = WorkQueue<Tracked>(capacity: 4)
        for _ in 0..<100 {
            queue.put(Tracked())
            XCTAssertNotNil(queue.take())
        }
        XCTAssertEqual(Tracked.alive, 0, "no element outlives its take")
        queue.put(Tracked())
        XCTAssertEqual(Tracked.alive, 1)
        queue.close()
        _ = queue.take()
        XCTAssertEqual(Tracked.alive, 0)
    }
}
