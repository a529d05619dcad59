import DICOM
import Foundation
import GRDB
@testable import Pipeline
@testable import Store
import XCTest

/// Shards and their merge on pydicom's test files (studies of every kind, files sharing a SOP
/// Instance UID, files without a study, broken files): the shards split the files by study, their
/// merge equals the unsharded index row for row, merging twice adds nothing, and a conflicting
/// duplicate is reported and not chosen.
final class ShardMergeTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var dir: URL!
    var input: String { Self.repo.appendingPathComponent(".cache/data/pydicom/pydicom/data/test_files").path }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: input) else {
            XCTFail("test data missing: run `make setup`")
            throw XCTSkip("no data")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("dxkit-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// An index of the test files (or one shard of them) with a fake head's results: a score from
    /// the SOP Instance UID for instances with a study, not-applicable rows for the rest, study
    /// results as the max — written through the same requests scoring uses.
    func index(_ name: String, shard: Shard?) throws -> IndexDatabase {
        let db = try IndexDatabase(path: dir.appendingPathComponent(name).path)
        let ingest = IngestJob(database: db, jobs: 2)
        ingest.shard = shard
        _ = try ingest.run(paths: [input])
        let store = ResultStore(database: db)
        let run = try store.startRun(version: "test", heads: ["fake"])
        var rows: [ResultRow] = []
        var byStudy: [String: [Double]] = [:]
        for c in try store.candidates() where shard?.contains(study: c.studyInstanceUID, sop: c.sopInstanceUID, path: c.path) ?? true {
            guard let study = c.studyInstanceUID, c.attributes["modality"] != "RTDOSE" else {
                rows.append(ResultRow(instanceID: c.instanceID, head: "none", modelSha256: "heads:fake", status: .notApplicable))
                continue
            }
            var row = ResultRow(instanceID: c.instanceID, head: "fake", modelSha256: "f00d", status: .scored)
            let p = Double(Shard.of(c.sopInstanceUID, count: 1000)) / 1000
            row.probability = p
            row.calibratedProbability = p
            row.decision = p >= 0.5 ? "POSITIVE" : "NEGATIVE"
            row.threshold = 0.5
            row.logits = [Float(p), Float(1 - p)]
            rows.append(row)
            byStudy[study, default: []].append(p)
        }
        try store.write(rows, run: run)
        try store.replaceStudyResults(head: "fake", modelSha256: "f00d", rows: byStudy.map { study, ps in
            let patient = try! db.queue.read { try String.fetchOne($0, sql: "SELECT coalesce(patient_key, '') FROM instances WHERE study_instance_uid = ?", arguments: [study]) } ?? ""
            return StudyResultRow(study: study, patientKey: patient, probability: ps.max()!, calibratedProbability: ps.max()!,
                                  decision: ps.max()! >= 0.5 ? "POSITIVE" : "NEGATIVE", rule: "max", instances: ps.count)
        })
        try store.finishRun(run, scored: rows.count, notApplicable: 0, errors: 0)
        return db
    }

    func rows(_ db: IndexDatabase, _ sql: String) throws -> [String] {
        try db.queue.read { db in try Row.fetchAll(db, sql: sql).map { "\($0)" }.sorted() }
    }

    static let instancesSQL = "SELECT path, sop_instance_uid, study_instance_uid, content_sha256, status, duplicate_of IS NOT NULL AS dup FROM instances"
    static let resultsSQL = """
        SELECT i.path, i.sop_instance_uid, r.head, r.model_sha256, r.status, r.probability, r.decision, r.logits
        FROM results r JOIN instances i ON i.id = r.instance_ref
        """
    static let studiesSQL = "SELECT study_instance_uid, patient_key, head, probability, decision, instances FROM study_results"

    func testShardsSplitByStudyAndMergeToTheUnshardedIndex() throws {
        let whole = try index("whole.sqlite", shard: nil)
        let shards = try (0..<3).map { try index("shard-\($0).sqlite", shard: Shard(index: $0, count: 3)) }
        // Every instance in exactly one shard, every study's instances in one shard.
        let counts = try shards.map { try rows($0, Self.instancesSQL).count }
        XCTAssertEqual(counts.reduce(0, +), try rows(whole, Self.instancesSQL).count)
        XCTAssertTrue(counts.allSatisfy { $0 > 0 }, "\(counts)")
        let studySets = try shards.map { s in Set(try rows(s, "SELECT DISTINCT study_instance_uid FROM instances WHERE study_instance_uid IS NOT NULL")) }
        for a in 0..<3 { for b in (a + 1)..<3 { XCTAssertTrue(studySets[a].isDisjoint(with: studySets[b])) } }
        XCTAssertGreaterThan(try rows(whole, "SELECT id FROM instances WHERE duplicate_of IS NOT NULL").count, 0, "the data holds duplicates")
        XCTAssertGreaterThan(try rows(whole, "SELECT id FROM instances WHERE status = 'error'").count, 0, "and broken files")

        try FileManager.default.createDirectory(at: dir.appendingPathComponent("merged"), withIntermediateDirectories: true)
        let merged = try IndexDatabase(path: dir.appendingPathComponent("merged/all.sqlite").path)
        let summaries = try MergeJob(database: merged).run(shards: shards.map(\.path))
        XCTAssertTrue(summaries.allSatisfy { $0.conflicts.isEmpty }, "\(summaries.flatMap(\.conflicts))")
        XCTAssertEqual(summaries.map(\.runsAdded), [1, 1, 1])
        for sql in [Self.instancesSQL, Self.resultsSQL, Self.studiesSQL] {
            XCTAssertEqual(try rows(merged, sql), try rows(whole, sql), sql)
        }
        XCTAssertEqual(summaries.map(\.resultsAdded).reduce(0, +), try rows(whole, Self.resultsSQL).count)

        // Merging again, in another order, adds nothing.
        let again = try MergeJob(database: merged).run(shards: shards.map(\.path).reversed())
        XCTAssertEqual(again.map(\.added), [0, 0, 0])
        XCTAssertEqual(again.map(\.resultsPresent).reduce(0, +), try rows(whole, Self.resultsSQL).count)
        XCTAssertTrue(again.allSatisfy { $0.conflicts.isEmpty })
        for sql in [Self.instancesSQL, Self.resultsSQL, Self.studiesSQL, "SELECT dxkit_version, started_at, status FROM runs"] {
            XCTAssertEqual(try rows(merged, sql).count, sql.contains("runs") ? 3 : try rows(whole, sql).count, sql)
        }
    }

    func testAConflictingDuplicateIsReportedAndNotChosen() throws {
        let shard = try index("shard.sqlite", shard: try Shard(index: 0, count: 2))
        let merged = try IndexDatabase(path: dir.appendingPathComponent("merged.sqlite").path)
        _ = try MergeJob(database: merged).run(shards: [shard.path])
        // The same shard scored again by another model version: one result differs.
        let (sop, before): (String, Double) = try shard.queue.write { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT r.id, i.sop_instance_uid, r.probability FROM results r JOIN instances i ON i.id = r.instance_ref
                WHERE r.status = 'scored' ORDER BY r.id LIMIT 1
                """)!
            try db.execute(sql: "UPDATE results SET probability = probability + 0.25 WHERE id = ?", arguments: [row["id"] as Int64])
            return (row["sop_instance_uid"], row["probability"])
        }
        let summary = try MergeJob(database: merged).run(shards: [shard.path])[0]
        XCTAssertEqual(summary.added, 0)
        XCTAssertEqual(summary.conflicts.count, 1, "\(summary.conflicts)")
        let conflict = summary.conflicts[0]
        XCTAssertEqual(conflict.kind, "result")
        XCTAssertTrue(conflict.key.hasPrefix(sop), conflict.key)
        XCTAssertTrue(conflict.merged.contains(String(format: "p=%.6f", before)), conflict.merged)
        XCTAssertTrue(conflict.shard.contains(String(format: "p=%.6f", before + 0.25)), conflict.shard)
        let kept = try merged.queue.read { db in
            try Double.fetchOne(db, sql: """
                SELECT r.probability FROM results r JOIN instances i ON i.id = r.instance_ref WHERE i.sop_instance_uid = ? AND r.head = 'fake'
                """, arguments: [sop])
        }
        XCTAssertEqual(kept, before, "the merged index keeps its value")
        // A file whose content changed under the same path is a conflicting instance.
        let path = try shard.queue.write { db -> String in
            let p = try String.fetchOne(db, sql: "SELECT path FROM instances WHERE status = 'ok' ORDER BY id LIMIT 1")!
            try db.execute(sql: "UPDATE instances SET content_sha256 = 'changed' WHERE path = ?", arguments: [p])
            return p
        }
        let second = try MergeJob(database: merged).run(shards: [shard.path])[0]
        XCTAssertTrue(second.conflicts.contains { $0.kind == "instance" && $0.key == path }, "\(second.conflicts)")
        XCTAssertThrowsError(try merged.merge(shard: merged.path)) { XCTAssertTrue("\($0)".contains("merged index itself")) }
        XCTAssertThrowsError(try merged.merge(shard: dir.appendingPathComponent("none.sqlite").path)) {
            XCTAssertTrue("\($0)".contains("no such index"))
        }
    }

    func testShardAssignmentIsStableAndBalanced() throws {
        // Pinned: the same study goes to the same shard on every machine and in every version.
        XCTAssertEqual(Shard.of("1.2.840.113619.2.55.3.604688119.968.1217248311.297", count: 4), 2)
        XCTAssertEqual(Shard.of("2.25.94621591010001815608275259896256303431", count: 4), 0)
        var counts = [Int](repeating: 0, count: 4)
        for k in 0..<20_000 { counts[Shard.of("1.2.826.0.1.3680043.8.498.\(k)", count: 4)] += 1 }
        for c in counts { XCTAssertEqual(Double(c), 5000, accuracy: 250, "\(counts)") }
        XCTAssertEqual(try Shard(parsing: "3/4"), try Shard(index: 3, count: 4))
        for bad in ["4/4", "-1/4", "1/0", "1", "a/b", "1/2/3"] {
            XCTAssertThrowsError(try Shard(parsing: bad), bad)
        }
    }
}
