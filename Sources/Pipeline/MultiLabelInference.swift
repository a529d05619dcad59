import Engine
import Foundation
import Models
import Store

extension ScoreJob.Head {
    /// Whether `instance` already has this head's result for its current model: the single-label
    /// row, a multi-label head's first finding's row, or a head-level error row (finding `""`).
    func isDone(_ instance: Int64, existing: Set<String>) -> Bool {
        if existing.contains(ResultStore.key(instance, name, sha256)) { return true }
        guard isMultiLabel, let first = findings.first else { return false }
        return existing.contains(ResultStore.key(instance, name, sha256, finding: first.name))
    }
}

extension ScoreJob {
    /// A multi-label head's rows for a batch that ran: per image, one row per finding (its output's
    /// sigmoid probability, calibrated by the finding's calibration, decided present/absent at the
    /// finding's threshold, which is stored with it) in the card's order of findings. An image
    /// whose outputs are not all numbers gets one error row (finding `""`) instead. With heatmaps,
    /// each image gets the class activation map of its most probable finding, stored on that
    /// finding's row (`<sop>-<head>-<finding>.png`).
    func multiLabelRows(_ ready: [Prepared], head: Head, features: Tensor, logits: Tensor, probabilities: [[Float]],
                        perImage: Double) -> [ResultRow] {
        let k = logits.count / logits.batch
        // A card whose classes outnumber the network's outputs must not index past them.
        if let missing = head.findings.first(where: { $0.output >= k }) {
            return ready.map { item in
                var row = ResultRow(instanceID: item.work.candidate.instanceID, head: head.name, modelSha256: head.sha256, status: .error)
                row.reason = "the card's finding \(missing.name) reads output \(missing.output + 1), but the network has \(k) outputs"
                return row
            }
        }
        var perItem: [[ResultRow]] = ready.enumerated().map { i, item in
            let id = item.work.candidate.instanceID
            let outputs = Array(logits.data[(i * k)..<(i * k + k)])
            guard probabilities[i].allSatisfy(\.isFinite) else {
                var row = ResultRow(instanceID: id, head: head.name, modelSha256: head.sha256, status: .error)
                row.reason = "the network's output is not a number"
                return [row]
            }
            return head.findings.map { finding in
                let p = Double(probabilities[i][finding.output])
                let calibrated = head.calibrator(for: finding.name)?.apply(p) ?? p
                var row = ResultRow(instanceID: id, head: head.name, finding: finding.name, modelSha256: head.sha256, status: .scored)
                row.logits = outputs
                row.probability = p
                row.calibratedProbability = calibrated
                row.threshold = finding.rule.threshold
                row.decision = finding.rule.decide(calibrated)
                row.seconds = item.seconds + perImage
                return row
            }
        }
        if let directory = options.heatmapDirectory {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var paths = [(row: Int, path: String)?](repeating: nil, count: ready.count)
            let lock = NSLock()
            let rows = perItem
            DispatchQueue.concurrentPerform(iterations: ready.count) { i in
                guard let thumbnail = ready[i].thumbnail, rows[i].first?.status == .scored,
                      let top = rows[i].indices.max(by: { (rows[i][$0].probability ?? 0, $1) < (rows[i][$1].probability ?? 0, $0) })
                else { return }
                let finding = head.findings[top]
                guard let path = writeHeatmap(features: features, item: i, classIndex: finding.output, className: finding.name,
                                              intensity: probabilities[i][finding.output], head: head, thumbnail: thumbnail,
                                              sop: ready[i].work.candidate.sopInstanceUID, directory: directory) else { return }
                lock.lock()
                paths[i] = (top, path)
                lock.unlock()
            }
            let base = URL(fileURLWithPath: store.database.path).standardizedFileURL.deletingLastPathComponent().path
            for i in perItem.indices {
                if let written = paths[i] { perItem[i][written.row].heatmapPath = StoredPath.relative(written.path, to: base) }
            }
        }
        return perItem.flatMap { $0 }
    }
}
