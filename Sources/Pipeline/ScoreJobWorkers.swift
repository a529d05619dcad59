import Models
import DICOM
import Foundation
import Imaging
import Store

extension ScoreJob {
    struct Prepared {
        var index: Int
        var work: Work
        var input: [Float]?
        /// 8-bit thumbnail (≤ 512 px, grey or RGB) for the heatmap overlay: a quarter of the memory of floats.
        var thumbnail: Thumbnail?
        var error: String?
        /// The file no longer holds the content the index has for it.
        var changed = false
        var seconds: Double
    }

    /// Workers decode and prepare; this thread takes their results in work order, batches them per
    /// head in that order, runs the network and writes. Returns the work whose files changed.
    func score(_ work: [Work], heads: [Head], runID: Int64, summary: inout ScoringSummary, start: Date,
               progress: (Int, Int, ScoringSummary) -> Void) throws -> [Work] {
        guard !work.isEmpty else { return [] }
        let jobs = max(1, options.jobs)
        let budget = MemoryBudget(total: options.limits.maxDecodeBytes)
        let limits = options.limits
        var pending: [[Prepared]] = Array(repeating: [], count: heads.count)
        var done = 0
        var changed: [Work] = []
        func flush(_ h: Int) throws {
            let batch = pending[h]
            pending[h] = []
            guard !batch.isEmpty else { return }
            let rows = infer(batch, head: heads[h])
            try store.write(rows, run: runID)
            // Counted per image (a multi-label head writes a row per finding).
            var counted = Set<Int64>()
            for r in rows where counted.insert(r.instanceID).inserted {
                if r.status == .scored { summary.scored += 1 } else { summary.errors += 1 }
            }
            done += batch.count
            summary.seconds = Date().timeIntervalSince(start)
            progress(done, work.count, summary)
        }
        // Workers run at most a batch (plus two per worker) ahead of inference: memory stays bounded.
        try WorkerPool.run(count: work.count, jobs: jobs, window: options.batchSize + 2 * jobs, produce: { i in
            Self.prepare(work[i], index: i, heads: heads, limits: limits, budget: budget)
        }, whileStarting: {
            // The weights load while the workers decode; only the heads with work read theirs.
            for h in Set(work.map(\.head)).sorted() { try heads[h].load() }
        }) { _, ready in
            if ready.changed {
                changed.append(ready.work)
                return
            }
            pending[ready.work.head].append(ready)
            if pending[ready.work.head].count >= options.batchSize { try flush(ready.work.head) }
        }
        for h in heads.indices { try flush(h) }
        return changed
    }

    /// Decodes and preprocesses one file, after checking that it still holds the content the
    /// index has for it (hash before decoding; size and time stamp unchanged after).
    static func prepare(_ work: Work, index: Int, heads: [Head], limits: DecodeLimits, budget: MemoryBudget) -> Prepared {
        let started = Date()
        let path = work.candidate.path
        var prepared = Prepared(index: index, work: work, seconds: 0)
        Quarantine.reading(path) {
            do {
                let before = try FileStamp(path)
                guard try ContentHash.sha256(file: path) == work.candidate.contentSha256 else {
                    prepared.changed = true
                    return
                }
                let image = try InputLoader.pixels8(path, limits: limits, budget: budget)  // grey stays one channel
                guard try FileStamp(path) == before else {
                    prepared.changed = true
                    return
                }
                prepared.input = InputLoader.prepare(image, for: heads[work.head].card)
                let scale = min(1, 512 / Double(max(image.width, image.height)))
                let thumbnail = Resize.area(image, width: max(1, Int(Double(image.width) * scale)),
                                            height: max(1, Int(Double(image.height) * scale)))
                prepared.thumbnail = Thumbnail(thumbnail)
            } catch let error as DicomError {
                prepared.error = error.reason
            } catch {
                prepared.error = "\(error)"
            }
        }
        prepared.seconds = Date().timeIntervalSince(started)
        return prepared
    }
}

/// Size and modification time of a file, to notice a change during a read.
struct FileStamp: Equatable {
    var size: Int64
    var mtime: Double

    init(_ path: String) throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
    }
}

/// An 8-bit RGB image kept between preprocessing and the heatmap overlay.
struct Thumbnail {
    var width: Int, height: Int, channels: Int
    var bytes: [UInt8]

    /// `image`: grey or RGB, 0…255 (grey stays one channel; the overlay replicates it).
    init(_ image: DICOM.Image) {
        width = image.width
        height = image.height
        channels = image.channels == 1 ? 1 : 3
        let rgb = channels == 1 ? image : ModelInput.rgb(image)
        bytes = rgb.pixels.map { UInt8(saturating: $0 + 0.5) }  // rounded half up: values are ≥ 0
    }
}
