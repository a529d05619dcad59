import DICOM
import Engine
import Foundation
import Imaging
import Models
import Store

extension ScoreJob {
    /// Runs one batch through a head; failures become error rows (one per image, finding `""`).
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
        let input = InputLoader.batch(ready.map { $0.input! }, for: card)
        let (features, logits) = head.classifier.featuresAndLogits(input)
        let probabilities = head.classifier.probabilities(logits)
        let perImage = Date().timeIntervalSince(started) / Double(ready.count)
        if head.isMultiLabel {
            return rows + multiLabelRows(ready, head: head, features: features, logits: logits, probabilities: probabilities,
                                         perImage: perImage)
        }
        let k = logits.count / logits.batch
        var scored = ready.enumerated().map { i, item -> ResultRow in
            let p = Double(probabilities[i][head.positiveIndex])
            let calibrated = head.calibrator?.apply(p) ?? p
            var row = ResultRow(instanceID: item.work.candidate.instanceID, head: head.name, modelSha256: head.sha256, status: .scored)
            row.logits = Array(logits.data[(i * k)..<(i * k + k)])
            row.probability = p
            row.calibratedProbability = calibrated
            row.threshold = head.rule.threshold
            row.decision = head.rule.decide(calibrated)
            row.seconds = item.seconds + perImage
            return row
        }
        // A network output that is not a number is that image's error, not a result.
        for i in scored.indices where !(scored[i].probability ?? Double.nan).isFinite {
            var row = ResultRow(instanceID: scored[i].instanceID, head: head.name, modelSha256: head.sha256, status: .error)
            row.reason = "the network's output is not a number"
            scored[i] = row
        }
        // Heatmaps of the batch on every core (each is independent; the order of rows is kept): the
        // decided class's evidence and, when the decision is negative, the positive class's too (a
        // missed finding's evidence is what a reader wants to see), each shaded by its probability.
        if let directory = options.heatmapDirectory {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let classes = card.classes ?? []
            var paths = [(decided: String?, positive: String?)](repeating: (nil, nil), count: ready.count)
            let lock = NSLock()
            DispatchQueue.concurrentPerform(iterations: ready.count) { i in
                guard let thumbnail = ready[i].thumbnail, scored[i].status == .scored else { return }
                let decided = head.rule.isPositive(scored[i].decision) ? head.positiveIndex : (head.positiveIndex == 0 ? 1 : 0)
                var written: (String?, String?) = (nil, nil)
                for (slot, classIndex) in [decided, head.positiveIndex].enumerated() where slot == 0 || classIndex != decided {
                    let name = classIndex < classes.count ? classes[classIndex] : "class\(classIndex)"
                    let path = writeHeatmap(features: features, item: i, classIndex: classIndex, className: name,
                                            intensity: probabilities[i][classIndex], head: head, thumbnail: thumbnail,
                                            sop: ready[i].work.candidate.sopInstanceUID, directory: directory)
                    if slot == 0 { written.0 = path } else { written.1 = path }
                }
                lock.lock()
                paths[i] = written
                lock.unlock()
            }
            let base = URL(fileURLWithPath: store.database.path).standardizedFileURL.deletingLastPathComponent().path
            for i in scored.indices {
                scored[i].heatmapPath = paths[i].decided.map { StoredPath.relative($0, to: base) }
                scored[i].positiveHeatmapPath = paths[i].positive.map { StoredPath.relative($0, to: base) }
            }
        }
        return rows + scored
    }

    /// Writes `<sop>-<head>-<class>.png`: the class's map normalised to its peak, times `intensity`.
    func writeHeatmap(features: Tensor, item: Int, classIndex: Int, className: String, intensity: Float, head: Head,
                      thumbnail: Thumbnail, sop: String, directory: String) -> String? {
        guard let map = ActivationMap.compute(features: features, item: item, classIndex: classIndex,
                                              head: head.classifier.head) else { return nil }
        let path = "\(directory)/\(SafeName.file(sop))-\(head.name)-\(SafeName.file(className)).png"
        let written: Void? = thumbnail.bytes.withUnsafeBufferPointer { pixels in
            let overlay = HeatmapOverlay.render(pixels, width: thumbnail.width, height: thumbnail.height, channels: thumbnail.channels,
                                                map: map.values, mapWidth: map.width, mapHeight: map.height, intensity: intensity)
            return overlay.withUnsafeBufferPointer {
                try? PNGEncoder.write($0, width: thumbnail.width, height: thumbnail.height, channels: 3, to: path)
            }
        }
        return written != nil ? URL(fileURLWithPath: path).standardizedFileURL.path : nil
    }
}
