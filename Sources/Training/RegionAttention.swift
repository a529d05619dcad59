import DICOM
import Engine
import Foundation
import Imaging
import Models


/// Where a trained mammography head looks: for each image, the share of its class activation map's
/// mass (the decided class, as the reports draw it) that falls outside the breast region. A head
/// that has learnt a shortcut — the burned-in "LCC" label, a marker, the film edge — puts its mass
/// there; `train` prints the shares, stores them on the card and warns when they are high.
struct RegionAttention {
    struct Share {
        var path: String
        var outside: Double
    }

    /// A map with more than this share outside the breast is flagged.
    static let imageLimit = 0.5
    /// Heads whose mean share outside exceeds this are flagged.
    static let meanLimit = 0.25

    /// The shares of `paths` under `classifier` (a head read from its folder, `card` its card).
    static func outsideBreast(classifier: Classifier, card: ModelCard, paths: [String]) throws -> [Share] {
        try paths.map { path in
            let image = try InputLoader.pixels8(path)
            let region = BreastRegion.find(in: image)
            let input = InputLoader.batch([InputLoader.prepare(image, for: card)], for: card)
            let (features, logits) = classifier.featuresAndLogits(input)
            let decided = logits.data.indices.max { logits.data[$0] < logits.data[$1] } ?? 0
            guard let map = ActivationMap.compute(features: features, item: 0, classIndex: decided, head: classifier.head),
                  let inside = region.massInside(map.values, mapWidth: map.width, mapHeight: map.height) else {
                return Share(path: path, outside: 0)
            }
            return Share(path: path, outside: 1 - inside)
        }
    }

    /// Why the shares look like a shortcut (empty when they do not).
    static func warnings(_ shares: [Share]) -> [String] {
        guard !shares.isEmpty else { return [] }
        var out: [String] = []
        let mean = shares.map(\.outside).reduce(0, +) / Double(shares.count)
        if mean > meanLimit {
            out.append(String(format: "on average %.0f%% of the heatmaps' mass lies outside the breast (labels, markers, background): the head may have learnt a shortcut", 100 * mean))
        }
        for s in shares where s.outside > imageLimit {
            out.append(String(format: "%@: %.0f%% of its heatmap lies outside the breast", URL(fileURLWithPath: s.path).lastPathComponent, 100 * s.outside))
        }
        return out
    }
}
