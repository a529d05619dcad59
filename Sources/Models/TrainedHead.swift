import Engine
import Foundation

/// A head trained by `dxkit train` (linear, MLP or prototype) on a backbone's pooled features,
/// loaded as engine layers: the input standardisation is folded into the first dense layer;
/// prototype heads L2-normalise, then take scaled cosine similarities to the class prototypes.
public enum TrainedHead {
    /// The backbone's features with its last `k` top-level blocks rebuilt from the `tail.N`
    /// tensors stored with the head (nothing changes when `k` is 0).
    public static func features(_ base: Sequential, unfrozen k: Int, file: SafeTensors) throws -> Sequential {
        guard k > 0 else { return base }
        let start = try tailStart(base, unfrozen: k, file: file.path)
        let tail = Sequential(Array(base.layers[start...]))
        guard let expected = LayerParameters.of(tail) else {
            throw ModelError(file: file.path, reason: "the backbone's last \(k) blocks hold layers that cannot be trained")
        }
        let stored = try expected.indices.map { i -> [Float] in
            let values = try file.tensor("tail.\(i)")
            guard values.count == expected[i].count else {
                throw ModelError(file: file.path, reason: "tail.\(i) holds \(values.count) values; the backbone's block needs \(expected[i].count)")
            }
            return values
        }
        if file.shape("tail.\(expected.count)") != nil {
            throw ModelError(file: file.path, reason: "more tail tensors than the backbone's last \(k) blocks hold")
        }
        var index = 0
        let rebuilt = base.layers[start...].map { LayerParameters.replacing($0, with: stored, index: &index) }
        return Sequential(Array(base.layers[..<start]) + rebuilt)
    }

    /// Index of the first of the last `k` blocks; the input conversion and stem always stay frozen.
    public static func tailStart(_ features: Sequential, unfrozen k: Int, file: String) throws -> Int {
        let blocks = features.layers.count - 2
        guard k >= 0, k <= blocks else {
            throw ModelError(file: file, reason: "cannot unfreeze \(k) blocks: this backbone has \(blocks) after its stem")
        }
        return features.layers.count - k
    }

    public static func layers(_ file: SafeTensors, type: String) throws -> Sequential {
        switch type {
        case "prototype":
            let p = try file.tensor("prototypes")
            let shape = file.shape("prototypes")!
            let temperature = try file.tensor("temperature")[0]
            return Sequential([GlobalAveragePool(), L2Normalize(),
                               Dense(weights: p.map { $0 * temperature }, bias: nil, inFeatures: shape[1], outFeatures: shape[0])])
        case "linear", "mlp":
            let mean = try file.tensor("input_mean"), scale = try file.tensor("input_scale")
            let w1 = try file.tensor("dense1.weight"), b1 = try file.tensor("dense1.bias")
            let rows = b1.count, cols = mean.count
            guard w1.count == rows * cols else { throw ModelError(file: file.path, reason: "dense1.weight does not match input_mean") }
            // W (s ⊙ (x − μ)) + b = (W diag s) x + (b − W (s ⊙ μ))
            var folded = w1, bias = b1
            for r in 0..<rows {
                var shift: Float = 0
                for c in 0..<cols {
                    folded[r * cols + c] = w1[r * cols + c] * scale[c]
                    shift += folded[r * cols + c] * mean[c]
                }
                bias[r] -= shift
            }
            var layers: [Layer] = [GlobalAveragePool(),
                                   Dense(weights: folded, bias: bias, inFeatures: cols, outFeatures: rows,
                                         activation: type == "mlp" ? .relu : .identity)]
            if type == "mlp" {
                let w2 = try file.tensor("dense2.weight"), b2 = try file.tensor("dense2.bias")
                layers.append(Dense(weights: w2, bias: b2, inFeatures: rows, outFeatures: b2.count))
            }
            return Sequential(layers)
        default:
            throw ModelError(file: file.path, reason: "unknown head type \(type)")
        }
    }
}
