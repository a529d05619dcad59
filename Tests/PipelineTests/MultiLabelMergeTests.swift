import Foundation
import GRDB
import Pipeline
@testable import Store
import XCTest

/// Sharded scoring of a multi-label head merges to the unsharded index row for row (results and
/// study results per finding); a finding that differs is a conflict naming it.
final class MultiLabelMergeTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try MultiLabelFixture.temporaryFolder("dxkit-multilabel-merge") }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func rows(_ db: IndexDatabase, _ sql: String) throws -> [String] {
        try db.queue.read { db in try Row.fetchAll(db, sql: sql).map { "\($0)" }.sorted() }
    }

    func testShardsMergePerFinding() throws {
        let (whole, head, _) = try MultiLabelTests.scoredIndex(in: dir, heatmaps: false)
        var shards: [IndexDatabase] = []
        for i in 0..<2 {
            let db = try IndexDatabase(path: dir.appendingPathComponent("shard-\(i).sqlite").path)
            _ = try IngestJob(database: db, jobs: 1).run(paths: [dir.appendingPathComponent("in").path])
            var options = ScoreJob.Options()
            options.shard = try Shard(index: i, count: 2)
            _ = try ScoreJob(database: db, heads: [head], options: options).run()
            shards.append(db)
        }
        let merged = try IndexDatabase(path: dir.appendingPathComponent("merged.sqlite").path)
        let summaries = try MergeJob(database: merged).run(shards: shards.map(\.path))
        XCTAssertTrue(summaries.allSatisfy { $0.conflicts.isEmpty }, "\(summaries.flatMap(\.conflicts))")
        let results = """
            SELECT i.path, r.head, r.finding, r.model_sha256, r.status, r.probability, r.decision, r.threshold
            FROM results r JOIN instances i ON i.id = r.instance_ref
            """
        let studies = "SELECT study_instance_uid, patient_key, head, finding, probability, decision, instances FROM study_results"
        XCTAssertEqual(try rows(merged, results), try rows(whole, results))
        XCTAssertEqual(try rows(merged, results).count, 3 * MultiLabelFixture.findings.count)
        XCTAssertEqual(try rows(merged, studies), try rows(whole, studies))
        let again = try MergeJob(database: merged).run(shards: shards.map(\.path))
        XCTAssertEqual(again.map(\.resultsAdded), [0, 0])

        // One finding's probability changed in a shard: a conflict that names the finding.
        try shards[0].queue.write {
            try $0.execute(sql: "UPDATE results SET probability = probability / 2 WHERE finding = 'Effusion'")
        }
        let conflicting = try MergeJob(database: merged).run(shards: [shards[0].path])[0]
        XCTAssertFalse(conflicting.conflicts.isEmpty)
        XCTAssertTrue(conflicting.conflicts.allSatisfy { $0.key.contains("\(head.name) Effusion") }, "\(conflicting.conflicts)")
    }
}
