import Foundation
import Store

/// `dxkit merge`: merges shard indexes (from `run --shard`, or any dxkit indexes) into one, holding
/// the merged index's writer lock; each shard in its own transaction (see `IndexDatabase.merge`).
public struct MergeJob {
    public let database: IndexDatabase
    public init(database: IndexDatabase) { self.database = database }

    /// Merges `shards` in order; `merged` is called after each.
    public func run(shards: [String], merged: (MergeSummary) -> Void = { _ in }) throws -> [MergeSummary] {
        let lock = try DatabaseLock.acquire(database: database.path)
        defer { lock.release() }
        var out: [MergeSummary] = []
        for shard in shards {
            let summary = try database.merge(shard: shard)
            merged(summary)
            out.append(summary)
        }
        return out
    }
}
