import Engine

/// Class activation maps over the backbone's last feature maps. For a head of global average
/// pooling then dense layers, the gradient of the class logit with respect to each pooled feature
/// is exact and analytic (through ReLU masks); weighting the feature maps by it is Grad-CAM, and
/// for a single linear layer it is exactly CAM (Zhou et al., 2016). Values are ReLU'd, not scaled.
public struct ActivationMap: Sendable {
    public var width: Int
    public var height: Int
    public var values: [Float]

    /// The map of `classIndex` for item `item` of `features` (the backbone's NHWC output).
    public static func compute(features: Tensor, item: Int, classIndex: Int, head: Sequential) -> ActivationMap? {
        let dense = head.layers.compactMap { $0 as? Dense }
        guard head.layers.first is GlobalAveragePool, dense.count == head.layers.count - 1, !dense.isEmpty else { return nil }
        let nhwc = features.toNHWC()
        let (h, w, c) = (nhwc.height, nhwc.width, nhwc.channels)
        let plane = h * w
        let base = item * plane * c
        // Forward through the head for this item, keeping each layer's input.
        var pooled = [Float](repeating: 0, count: c)
        for p in 0..<plane { for k in 0..<c { pooled[k] += nhwc.data[base + p * c + k] } }
        for k in 0..<c { pooled[k] /= Float(plane) }
        var inputs: [[Float]] = [pooled]
        var pre: [[Float]] = []
        for layer in dense {
            let x = inputs.last!
            var z = layer.bias
            for o in 0..<layer.outFeatures {
                var s: Float = 0
                for i in 0..<layer.inFeatures { s += layer.weights[o * layer.inFeatures + i] * x[i] }
                z[o] += s
            }
            pre.append(z)
            inputs.append(z.map { layer.activation.apply($0) })
        }
        // Backward: d logit[class] / d input of each dense layer.
        var grad = [Float](repeating: 0, count: dense.last!.outFeatures)
        guard classIndex < grad.count else { return nil }
        grad[classIndex] = 1
        for (index, layer) in dense.enumerated().reversed() {
            for o in 0..<layer.outFeatures where !passes(layer.activation, pre[index][o]) { grad[o] = 0 }
            var down = [Float](repeating: 0, count: layer.inFeatures)
            for o in 0..<layer.outFeatures where grad[o] != 0 {
                for i in 0..<layer.inFeatures { down[i] += grad[o] * layer.weights[o * layer.inFeatures + i] }
            }
            grad = down
        }
        var values = [Float](repeating: 0, count: plane)
        for p in 0..<plane {
            var s: Float = 0
            for k in 0..<c { s += grad[k] * nhwc.data[base + p * c + k] }
            values[p] = max(s, 0)
        }
        return ActivationMap(width: w, height: h, values: values)
    }

    /// Whether the activation lets the gradient through at pre-activation `z`.
    static func passes(_ activation: Activation, _ z: Float) -> Bool {
        switch activation {
        case .identity: return true
        case .relu: return z > 0
        case .relu6: return z > 0 && z < 6
        }
    }
}
