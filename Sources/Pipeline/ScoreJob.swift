import DICOM
import Foundation
import Models
import Store

/// Counts of one scoring run.
public struct ScoringSummary: Sendable {
    public var candidates = 0
    public var scored = 0
    public var notApplicable = 0
    public var errors = 0
    /// Instances that already had a result for every head that takes them.
    public var alreadyDone = 0
    /// Files whose content changed since they were indexed: re-ingested, then scored as they are now.
    public var reingested = 0
    /// Instances recorded as errors because an earlier run crashed reading them.
    public var quarantined = 0
    /// Instances without a Study Instance UID (an error row each: no study to file a result under).
    public var withoutStudy = 0
    public var seconds = 0.0
    public var rate: Double { seconds > 0 ? Double(scored + errors) / seconds : 0 }
}

/// Scores every indexed, decodable instance that a head's routing rule accepts and that has no
/// result for that head's current model. Guarantees:
/// - **one writer**: the run holds the database's `DatabaseLock`; a second one is refused;
/// - **identity is checked**: each file is hashed before it is decoded and compared with the
///   content the index holds (and its size and time compared again after decoding); a file
///   that changed is re-ingested and scored as it is now, so a result is never filed under the
///   identity of a file's earlier content;
/// - **reproducible**: work is taken in index order and batches are formed in that order,
///   whichever worker finishes first, so the same inputs, batch size and threads give the same
///   bits;
/// - **bounded**: decoding runs on `jobs` workers at most a window ahead of inference, and all
///   concurrent decodes together stay within `limits.maxDecodeBytes`;
/// - **one bad file is one error row**: decode failures, limits and quarantined files become
///   error rows, the batch goes on. Results commit batch by batch, unique per (instance, head,
///   finding, model), so a killed run resumes exactly. Instances no head accepts get a not-applicable row.
public final class ScoreJob {
    public struct Options {
        public var jobs = 2
        public var batchSize = 16
        /// Where heatmap overlays are written (nil: none). Stored relative to the database's
        /// folder when inside it, else absolute.
        public var heatmapDirectory: String?
        public var version = "0"
        public var limits = DecodeLimits.standard
        /// Score only this shard's studies (nil: every candidate).
        public var shard: Shard?
        public init() {}
    }

    struct Work {
        var candidate: ScoringCandidate
        var head: Int
    }

    public let store: ResultStore
    public let heads: [Head]
    public let options: Options

    public init(database: IndexDatabase, heads: [Head], options: Options) {
        self.store = ResultStore(database: database)
        self.heads = heads
        self.options = options
    }

    /// Rounds of re-ingesting files that changed while being scored before giving up on them.
    static let identityRounds = 3

    public func run(progress: (Int, Int, ScoringSummary) -> Void = { _, _, _ in }) throws -> ScoringSummary {
        let lock = try DatabaseLock.acquire(database: store.database.path)
        defer { lock.release() }
        let start = Date()
        var summary = ScoringSummary()
        var heads = self.heads
        for i in heads.indices {
            let head = heads[i]
            try store.registerModel(head: head.name, name: head.card.name, weightsSha256: head.sha256, cardJSON: head.cardJSON)
            try heads[i].applyStoredCalibration(store)
        }
        let runID = try store.startRun(version: options.version, heads: heads.map(\.name))
        let quarantine = Quarantine(database: store.database.path)
        let crashed = quarantine.pending()
        try store.markErrors(paths: crashed, reason: Quarantine.reason)
        quarantine.resolve(crashed)
        summary.quarantined = crashed.count
        quarantine.install()

        var first = true
        for round in 1...Self.identityRounds {
            let work = try plan(heads: heads, runID: runID, summary: &summary, counting: first)
            first = false
            let changed = try score(work, heads: heads, runID: runID, summary: &summary, start: start, progress: progress)
            guard !changed.isEmpty else { break }
            if round == Self.identityRounds {
                try store.write(changed.map { item in
                    var row = ResultRow(instanceID: item.candidate.instanceID, head: heads[item.head].name,
                                        modelSha256: heads[item.head].sha256, status: .error)
                    row.reason = "the file kept changing while it was being scored"
                    return row
                }, run: runID)
                summary.errors += changed.count
                break
            }
            let paths = Array(Set(changed.map(\.candidate.path))).sorted()
            let ingestor = IngestJob(database: store.database, jobs: options.jobs)
            ingestor.limits = options.limits
            ingestor.trustStamps = false
            _ = try ingestor.run(paths: paths)
            summary.reingested += paths.count
        }
        for head in heads {
            try StudyAggregation.update(store, head: head.name, modelSha256: head.sha256, rule: head.scoring.aggregation.rule,
                                        decisions: head.decisionRules, order: head.findings.map(\.name))
        }
        summary.seconds = Date().timeIntervalSince(start)
        try store.finishRun(runID, scored: summary.scored, notApplicable: summary.notApplicable, errors: summary.errors)
        return summary
    }

    /// The (instance, head) pairs still to score, in index order (an instance is done for a head
    /// when it has the head's row: a single-label head's one, a multi-label head's first finding's,
    /// or a head-level error row, finding `""`). Writes not-applicable rows for
    /// instances no head takes and error rows for instances without a Study Instance UID.
    func plan(heads: [Head], runID: Int64, summary: inout ScoringSummary, counting: Bool) throws -> [Work] {
        let signature = "heads:" + heads.map { "\($0.name)@\($0.sha256.prefix(12))" }.sorted().joined(separator: ",")
        let existing = try store.existingKeys()
        let candidates = try store.candidates().filter {
            options.shard?.contains(study: $0.studyInstanceUID, sop: $0.sopInstanceUID, path: $0.path) ?? true
        }
        if counting { summary.candidates = candidates.count }
        var work: [Work] = []
        var rows: [ResultRow] = []
        for candidate in candidates {
            if candidate.studyInstanceUID == nil {
                if !existing.contains(ResultStore.key(candidate.instanceID, "none", "no-study")) {
                    var row = ResultRow(instanceID: candidate.instanceID, head: "none", modelSha256: "no-study", status: .error)
                    row.reason = "no Study Instance UID (0020,000D): a result could not be filed under a study, so it is not scored"
                    rows.append(row)
                    summary.withoutStudy += 1
                    summary.errors += 1
                } else if counting {
                    summary.alreadyDone += 1
                }
                continue
            }
            let accepting = heads.indices.filter { Routing.accepts(heads[$0].scoring.routing, candidate.attributes) }
            if accepting.isEmpty {
                if !existing.contains(ResultStore.key(candidate.instanceID, "none", signature)) {
                    var row = ResultRow(instanceID: candidate.instanceID, head: "none", modelSha256: signature, status: .notApplicable)
                    row.reason = Routing.rejection(candidate.attributes, heads: heads.map { ($0.name, $0.scoring.routing) })
                    rows.append(row)
                    summary.notApplicable += 1
                } else if counting {
                    summary.alreadyDone += 1
                }
                continue
            }
            let todo = accepting.filter { !heads[$0].isDone(candidate.instanceID, existing: existing) }
            if todo.isEmpty && counting { summary.alreadyDone += 1 }
            work += todo.map { Work(candidate: candidate, head: $0) }
        }
        try store.write(rows, run: runID)
        return work
    }
}
