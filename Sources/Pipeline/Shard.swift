import Common
import Foundation

/// One of N shards of a cohort, for runs split over a cluster (`--shard I/N`, I from 0): a study
/// belongs to shard ⌊fmix64(fnv1a(StudyInstanceUID)) × N / 2^64⌋ — `StableHash.fnv1a`, then
/// MurmurHash3's 64-bit finaliser, whose high bits (which the range reduction uses) spread UIDs that
/// differ only in their last digits evenly — so a study never splits, every machine computes the
/// same assignment, and consecutive UIDs fill the shards alike. Instances without a Study Instance UID go by their SOP Instance
/// UID, files that could not be read by their path.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw PipelineError(file: "--shard", reason: "\(index)/\(count) is not a shard: I/N with 0 <= I < N (e.g. 0/4 … 3/4)")
        }
        self.index = index
        self.count = count
    }

    /// "I/N", as `--shard` takes it.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw PipelineError(file: "--shard", reason: "'\(text)' is not I/N (e.g. 0/4; SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT)")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard a key (a Study Instance UID, else a SOP Instance UID, else a path) falls in.
    public static func of(_ key: String, count: Int) -> Int {
        var h = StableHash.fnv1a(key)
        h ^= h >> 33
        h = h &* 0xff51afd7ed558ccd
        h ^= h >> 33
        h = h &* 0xc4ceb9fe1a85ec53
        h ^= h >> 33
        return Int(h.multipliedFullWidth(by: UInt64(count)).high)
    }

    /// Whether the instance (or unreadable file) identified so belongs here.
    public func contains(study: String?, sop: String?, path: String) -> Bool {
        Self.of(study ?? sop ?? path, count: count) == index
    }
}

/// A failure of a job's input or arguments (not tied to one module's files), naming what and why.
public typealias PipelineError = FileFailure<PipelineDomain>
public enum PipelineDomain {}
