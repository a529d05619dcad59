import DICOM
import Foundation
import Store

/// Counts of one ingest run.
public struct IngestSummary: Sendable {
    public var seen = 0
    /// Rows added or replaced because the file is new or changed.
    public var ingested = 0
    public var unchanged = 0
    public var skipped = 0
    /// Files recorded as `error` in this run.
    public var failed = 0
    /// Unchanged files whose stored row is an error.
    public var stillFailing = 0
    /// Ingested files whose SOP Instance UID another stored file already has.
    public var duplicates = 0
    public var dicomdirs = 0
    public var seconds = 0.0
    /// Every file of this run whose row is an error, with the reason.
    public var failures: [(path: String, reason: String)] = []
    /// Entries set aside (not DICOM by name, not regular files, links to nothing, refused
    /// DICOMDIR references, loops), with the reason.
    public var skips: [(path: String, reason: String)] = []
    /// Symbolic links followed while walking the folders.
    public var symlinksFollowed = 0
    /// Files recorded as errors without being read because dxkit crashed on them before.
    public var quarantined = 0
    /// Studies whose instances now name more than one patient: study UID → the patient keys.
    public var conflicts: [(study: String, patients: String)] = []
    /// Indexed instances (status ok, not duplicates) that no report can show: without a
    /// Study Instance UID, or without pixel data (not images).
    public var withoutStudy = 0
    public var withoutPixels = 0
    /// Files left to other shards (`--shard`): read, not stored.
    public var otherShards = 0

    public var processed: Int { ingested + unchanged + skipped + failed + stillFailing + dicomdirs + otherShards }
    public var rate: Double { seconds > 0 ? Double(processed) / seconds : 0 }
}

/// Ingests files into the index: parses them on `jobs` threads, writes results on the
/// calling thread in small transactions. Each file's rows commit together, so a killed
/// run leaves a consistent index and a re-run picks up where it stopped. Unchanged files
/// (same size and time stamp, or same content) are not parsed again.
///
/// A file that crashes dxkit while being read is named on standard error and quarantined (see
/// `Quarantine`): the next run records it as an error row without reading it, and goes on.
public final class IngestJob {
    public let database: IndexDatabase
    public let jobs: Int
    /// Results written per transaction.
    public var batchSize = 32
    /// Size limits a file's pixel attributes must respect to be indexed as decodable.
    public var limits = DecodeLimits.standard
    /// When false, every file is hashed even if its size and time stamp match the stored row
    /// (scoring re-ingests files whose content it found changed, time stamp or not).
    public var trustStamps = true
    /// Store only the studies of this shard (nil: everything).
    public var shard: Shard?

    public init(database: IndexDatabase, jobs: Int) {
        self.database = database
        self.jobs = max(1, jobs)
    }

    /// Ingests what `paths` hold. `progress` is called on the calling thread after each file
    /// with the summary so far and the number of files to process.
    public func run(paths: [String], progress: (IngestSummary, Int) -> Void = { _, _ in }) throws -> IngestSummary {
        let start = Date()
        let scan = FileScanner().scan(paths)
        if !scan.missing.isEmpty {
            throw StoreError(file: scan.missing[0], reason: "no such file or folder")
        }
        var summary = IngestSummary()
        summary.skipped = scan.skipped.count
        summary.skips = scan.skipped
        summary.symlinksFollowed = scan.symlinksFollowed
        summary.dicomdirs = scan.dicomdirs.count
        summary.seen = scan.files.count + scan.skipped.count + scan.dicomdirs.count
        var storedStamps = try database.storedStamps()
        if !trustStamps {
            for path in scan.files { storedStamps[path]?.mtime = -1 }
        }
        let stamps = storedStamps
        let quarantine = Quarantine(database: database.path)
        let quarantined = quarantine.pending()
        quarantine.install()

        let files = scan.files
        let limits = self.limits
        var pending: [IngestRecord] = []
        func flush() throws {
            guard !pending.isEmpty else { return }
            let batch = pending
            summary.duplicates += try database.write(batch)
            quarantine.resolve(Set(batch.map(\.path)).intersection(quarantined))
            pending.removeAll(keepingCapacity: true)
        }
        var lastFlush = Date()
        try WorkerPool.run(count: files.count, jobs: jobs, window: jobs * 8, produce: { i -> IngestRecord in
            let path = files[i]
            return quarantined.contains(path) ? Self.quarantinedRecord(path)
                : Quarantine.reading(path) { Self.examine(path, stored: stamps[path], limits: limits) }
        }) { _, record in
            if let shard, !Self.belongs(record, to: shard) {
                summary.otherShards += 1
                summary.seconds = Date().timeIntervalSince(start)
                progress(summary, summary.seen)
                return
            }
            switch record.outcome {
            case .parsed: summary.ingested += 1
            case let .failed(reason):
                summary.failed += 1
                summary.failures.append((record.path, reason))
                if reason == Quarantine.reason { summary.quarantined += 1 }
            case .unchanged, .touched:
                if let stored = stamps[record.path], stored.status == "error" {
                    summary.stillFailing += 1
                    summary.failures.append((record.path, stored.error ?? ""))
                } else {
                    summary.unchanged += 1
                }
            case let .skipped(reason):
                summary.skipped += 1
                summary.skips.append((record.path, "not DICOM: \(reason)"))
            case .directory: summary.dicomdirs += 1
            }
            pending.append(record)
            if pending.count >= batchSize || Date().timeIntervalSince(lastFlush) > 0.5 {
                try flush()
                lastFlush = Date()
            }
            summary.seconds = Date().timeIntervalSince(start)
            progress(summary, summary.seen)
        }
        try flush()
        summary.conflicts = try database.conflicts(among: Set(files))
        (summary.withoutStudy, summary.withoutPixels) = try database.unreportable(among: Set(files))
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    /// Whether a record is this shard's: parsed files by their study (else SOP Instance UID),
    /// failures and skips by path; files already stored here are.
    static func belongs(_ record: IngestRecord, to shard: Shard) -> Bool {
        switch record.outcome {
        case .unchanged, .touched: return true
        case let .parsed(instance): return shard.contains(study: instance.studyInstanceUID, sop: instance.sopInstanceUID, path: record.path)
        case .failed, .skipped, .directory: return shard.contains(study: nil, sop: nil, path: record.path)
        }
    }

    /// An error row for a file that crashed an earlier run, with its current stamp, so that it is
    /// read again only once it changes.
    static func quarantinedRecord(_ path: String) -> IngestRecord {
        var record = IngestRecord(path: path, size: 0, mtime: 0, sha256: nil, outcome: .failed(Quarantine.reason))
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path) {
            record.size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            record.mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        }
        record.sha256 = try? ContentHash.sha256(file: path)
        return record
    }

    /// Everything about one file that can be done off the writer thread.
    static func examine(_ path: String, stored: StoredStamp?, limits: DecodeLimits = .standard) -> IngestRecord {
        var record = IngestRecord(path: path, size: 0, mtime: 0, sha256: nil, outcome: .unchanged)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            record.outcome = .failed("cannot read the file's attributes")
            return record
        }
        record.size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        record.mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        if let stored, stored.size == record.size, stored.mtime == record.mtime { return record }
        do {
            record.sha256 = try ContentHash.sha256(file: path)
        } catch {
            record.outcome = .failed((error as? DicomError)?.reason ?? "\(error)")
            return record
        }
        if let stored, stored.sha256 == record.sha256 {
            record.outcome = .touched
            return record
        }
        do {
            switch try InstanceReader.read(path: path, limits: limits) {
            case let .instance(instance): record.outcome = .parsed(instance)
            case let .notDicom(reason): record.outcome = .skipped(reason)
            case .directory: record.outcome = .directory
            }
        } catch let error as DicomError {
            record.outcome = .failed(error.reason)
        } catch {
            record.outcome = .failed("\(error)")
        }
        return record
    }
}

