import DICOM
import Engine
import Foundation
import Imaging
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
    public var seconds = 0.0
    public var rate: Double { seconds > 0 ? Double(scored + errors) / seconds : 0 }
}

/// Scores every indexed, decodable instance that a head's routing rule accepts and that has no
/// result for that head's current model. Decoding and preprocessing run on `jobs` worker threads
/// feeding batched inference; results commit batch by batch, each unique per (instance, head,
/// model), so a killed run resumes exactly. Instances no head accepts get a not-applicable row.
public final class Scorer {
    public struct Options {
        public var jobs = 2
        public var batchSize = 16
        /// Where heatmap overlays are written (nil: none).
        public var heatmapDirectory: String?
        public var version = "0"
        public init() {}
    }

    /// A task head: a classifier whose card says how to route, threshold and aggregate.
    public struct Head {
        public let card: ModelCard
        /// The model folder (model.json and its weights).
        public let directory: String
        let network: LazyClassifier
        public let name: String
        public let scoring: ModelCard.Scoring
        public let sha256: String
        public let positiveIndex: Int
        /// The active calibration (identity and the card's threshold when none).
        public var calibrator: Calibrator?
        public var threshold: Double

        /// A head whose weights are loaded on first use (`load()`), so that a run with no work
        /// for it never reads them.
        public init(directory: String) throws {
            try self.init(card: ModelCard.load("\(directory)/model.json"), directory: directory, network: LazyClassifier(directory: directory))
        }

        public init(classifier: Classifier) throws {
            try self.init(card: classifier.card, directory: classifier.directory, network: LazyClassifier(loaded: classifier))
        }

        init(card: ModelCard, directory: String, network: LazyClassifier) throws {
            guard let name = card.head, let scoring = card.scoring else {
                throw ModelError(file: "\(directory)/model.json", reason: "not a task head (no head/scoring in its card)")
            }
            guard let classes = card.classes, let positive = classes.firstIndex(of: scoring.positiveClass) else {
                throw ModelError(file: "\(directory)/model.json", reason: "positive class \(scoring.positiveClass) not among its classes")
            }
            self.card = card
            self.directory = directory
            self.network = network
            self.name = name
            self.scoring = scoring
            self.sha256 = card.weightsSha256 ?? ""
            self.positiveIndex = positive
            self.threshold = scoring.threshold
        }

        /// The network, loading its weights the first time.
        @discardableResult public func load() throws -> Classifier { try network.get() }

        /// The network; `load()` must have succeeded first.
        public var classifier: Classifier { network.loaded! }

        /// The class decided when the positive class's probability is below the threshold.
        public var negativeLabel: String {
            card.classes?.enumerated().first { $0.offset != positiveIndex }?.element ?? "negative"
        }
    }

    struct Work {
        var candidate: ScoringCandidate
        var head: Int
    }

    struct Prepared {
        var work: Work
        var input: [Float]?
        /// 8-bit thumbnail (≤ 512 px, grey or RGB) for the heatmap overlay: a quarter of the memory of floats.
        var thumbnail: Thumbnail?
        var error: String?
        var seconds: Double
    }

    public let store: ResultStore
    public let heads: [Head]
    public let options: Options

    public init(database: IndexDatabase, heads: [Head], options: Options) {
        self.store = ResultStore(database: database)
        self.heads = heads
        self.options = options
    }

    public func run(progress: (Int, Int, ScoringSummary) -> Void = { _, _, _ in }) throws -> ScoringSummary {
        let start = Date()
        var summary = ScoringSummary()
        var heads = self.heads
        for i in heads.indices {
            let head = heads[i]
            let card = try String(contentsOfFile: "\(head.directory)/model.json", encoding: .utf8)
            try store.registerModel(head: head.name, name: head.card.name, weightsSha256: head.sha256, cardJSON: card)
            try heads[i].applyStoredCalibration(store)
        }
        let runID = try store.startRun(version: options.version, heads: heads.map(\.name))
        let signature = "heads:" + heads.map { "\($0.name)@\($0.sha256.prefix(12))" }.sorted().joined(separator: ",")
        let existing = try store.existingKeys()
        let candidates = try store.candidates()
        summary.candidates = candidates.count

        var work: [Work] = []
        var notApplicable: [ResultRow] = []
        for candidate in candidates {
            let accepting = heads.indices.filter { Routing.accepts(heads[$0].scoring.routing, candidate.attributes) }
            if accepting.isEmpty {
                if !existing.contains(ResultStore.key(candidate.instanceID, "none", signature)) {
                    var row = ResultRow(instanceID: candidate.instanceID, head: "none", modelSha256: signature, status: .notApplicable)
                    row.reason = Routing.rejection(candidate.attributes, heads: heads.map { ($0.name, $0.scoring.routing) })
                    notApplicable.append(row)
                } else {
                    summary.alreadyDone += 1
                }
                continue
            }
            let todo = accepting.filter { !existing.contains(ResultStore.key(candidate.instanceID, heads[$0].name, heads[$0].sha256)) }
            if todo.isEmpty { summary.alreadyDone += 1 }
            work += todo.map { Work(candidate: candidate, head: $0) }
        }
        try store.write(notApplicable, run: runID)
        summary.notApplicable = notApplicable.count

        try score(work, heads: heads, runID: runID, summary: &summary, start: start, progress: progress)
        for head in heads {
            try store.aggregateStudies(head: head.name, modelSha256: head.sha256, rule: head.scoring.aggregation.rule,
                                       threshold: head.threshold, positiveLabel: head.scoring.positiveClass,
                                       negativeLabel: head.negativeLabel)
        }
        summary.seconds = Date().timeIntervalSince(start)
        try store.finishRun(runID, scored: summary.scored, notApplicable: summary.notApplicable, errors: summary.errors)
        return summary
    }

    /// Workers decode and prepare; this thread batches per head, runs the network and writes.
    func score(_ work: [Work], heads: [Head], runID: Int64, summary: inout ScoringSummary, start: Date,
               progress: (Int, Int, ScoringSummary) -> Void) throws {
        guard !work.isEmpty else { return }
        // Enough prepared images for one batch plus what the workers hold: memory stays bounded.
        let queue = WorkQueue<Prepared>(capacity: options.batchSize + 2 * max(1, options.jobs))
        let counter = IndexCounter()
        let group = DispatchGroup()
        for _ in 0..<max(1, options.jobs) {
            group.enter()
            Thread {
                while let i = counter.take(below: work.count) {
                    queue.put(Self.prepare(work[i], heads: heads))
                }
                group.leave()
            }.start()
        }
        DispatchQueue.global().async { group.wait(); queue.close() }
        // The weights load while the workers decode; only the heads with work read theirs.
        do {
            for h in Set(work.map(\.head)).sorted() { try heads[h].load() }
        } catch {
            counter.stop()
            while queue.take() != nil {}  // lets the workers finish
            throw error
        }

        var pending: [[Prepared]] = Array(repeating: [], count: heads.count)
        var done = 0
        func flush(_ h: Int) throws {
            let batch = pending[h]
            pending[h] = []
            guard !batch.isEmpty else { return }
            let rows = infer(batch, head: heads[h])
            try store.write(rows, run: runID)
            for r in rows { if r.status == .scored { summary.scored += 1 } else { summary.errors += 1 } }
            done += batch.count
            summary.seconds = Date().timeIntervalSince(start)
            progress(done, work.count, summary)
        }
        while let item = queue.take() {
            pending[item.work.head].append(item)
            if pending[item.work.head].count >= options.batchSize { try flush(item.work.head) }
        }
        for h in heads.indices { try flush(h) }
    }

    static func prepare(_ work: Work, heads: [Head]) -> Prepared {
        let started = Date()
        do {
            let rgb = try InputLoader.pixels8(work.candidate.path)  // grey stays one channel
            let input = InputLoader.prepare(rgb, for: heads[work.head].card)
            let scale = min(1, 512 / Double(max(rgb.width, rgb.height)))
            let thumbnail = Resize.area(rgb, width: max(1, Int(Double(rgb.width) * scale)),
                                        height: max(1, Int(Double(rgb.height) * scale)))
            return Prepared(work: work, input: input, thumbnail: Thumbnail(thumbnail), error: nil,
                            seconds: Date().timeIntervalSince(started))
        } catch {
            return Prepared(work: work, input: nil, thumbnail: nil, error: "\(error)", seconds: Date().timeIntervalSince(started))
        }
    }

    /// Runs one batch through a head; failures become error rows.
    func infer(_ batch: [Prepared], head: Head) -> [ResultRow] {
        let card = head.card
        var rows: [ResultRow] = []
        let ready = batch.filter { $0.input != nil }
        for failed in batch where failed.input == nil {
            var row = ResultRow(instanceID: failed.work.candidate.instanceID, head: head.name, modelSha256: head.sha256, status: .error)
            row.reason = failed.error
            row.seconds = failed.seconds
            rows.append(row)
        }
        guard !ready.isEmpty else { return rows }
        let started = Date()
        let input = Tensor(shape: [ready.count, 3, card.input.height, card.input.width], data: ready.flatMap { $0.input! })
        let (features, logits) = head.classifier.featuresAndLogits(input)
        let probabilities = head.classifier.probabilities(logits)
        let perImage = Date().timeIntervalSince(started) / Double(ready.count)
        let k = logits.count / logits.batch
        var scored = ready.enumerated().map { i, item -> ResultRow in
            let p = Double(probabilities[i][head.positiveIndex])
            let calibrated = head.calibrator?.apply(p) ?? p
            var row = ResultRow(instanceID: item.work.candidate.instanceID, head: head.name, modelSha256: head.sha256, status: .scored)
            row.logits = Array(logits.data[(i * k)..<(i * k + k)])
            row.probability = p
            row.calibratedProbability = calibrated
            row.threshold = head.threshold
            row.decision = calibrated >= head.threshold ? head.scoring.positiveClass : head.negativeLabel
            row.seconds = item.seconds + perImage
            return row
        }
        // Heatmaps of the batch on every core (each is independent; the order of rows is kept).
        if let directory = options.heatmapDirectory {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var paths = [String?](repeating: nil, count: ready.count)
            let lock = NSLock()
            DispatchQueue.concurrentPerform(iterations: ready.count) { i in
                guard let thumbnail = ready[i].thumbnail else { return }
                let decided = scored[i].decision == head.scoring.positiveClass ? head.positiveIndex : (head.positiveIndex == 0 ? 1 : 0)
                let path = writeHeatmap(features: features, item: i, classIndex: decided, head: head, thumbnail: thumbnail,
                                        sop: ready[i].work.candidate.sopInstanceUID, directory: directory)
                lock.lock()
                paths[i] = path
                lock.unlock()
            }
            for i in scored.indices { scored[i].heatmapPath = paths[i] }
        }
        return rows + scored
    }

    func writeHeatmap(features: Tensor, item: Int, classIndex: Int, head: Head, thumbnail: Thumbnail,
                      sop: String, directory: String) -> String? {
        guard let map = ActivationMap.compute(features: features, item: item, classIndex: classIndex,
                                              head: head.classifier.head) else { return nil }
        let path = "\(directory)/\(SafeName.file(sop))-\(head.name).png"
        let written: Void? = thumbnail.bytes.withUnsafeBufferPointer { pixels in
            let overlay = HeatmapOverlay.render(pixels, width: thumbnail.width, height: thumbnail.height, channels: thumbnail.channels,
                                                map: map.values, mapWidth: map.width, mapHeight: map.height)
            return overlay.withUnsafeBufferPointer {
                try? PNGEncoder.write($0, width: thumbnail.width, height: thumbnail.height, channels: 3, to: path)
            }
        }
        return written != nil ? path : nil
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
        bytes = rgb.pixels.map { UInt8(Swift.min(Swift.max($0, 0), 255) + 0.5) }  // rounded half up: values are ≥ 0
    }
}

/// A classifier loaded once, on first use, by whichever thread asks first.
final class LazyClassifier: @unchecked Sendable {
    let directory: String
    private(set) var loaded: Classifier?
    private let lock = NSLock()

    init(directory: String) { self.directory = directory }
    init(loaded: Classifier) { directory = loaded.directory; self.loaded = loaded }

    func get() throws -> Classifier {
        lock.lock()
        defer { lock.unlock() }
        if let loaded { return loaded }
        let c = try Classifier(directory: directory)
        loaded = c
        return c
    }
}
