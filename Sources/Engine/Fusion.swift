/// The fusion step: a layer tree rewritten into the one that runs, with the same outputs bit for
/// bit. Done once per network when it is loaded (`Classifier`), or by whoever assembles layers to
/// run (training's feature extraction and fine-tuning) — not by the layers themselves, so a
/// network as built stays the plain tree that training reads and rebuilds. The rewrites, by
/// pattern, in every sequence of the tree:
/// - an inverted residual body ([expand 1x1 →] depthwise → project 1x1) becomes a
///   `BandedDepthwiseBlock`;
/// - an activation that follows a convolution is applied as the convolution stores its output;
/// - two separable convolutions in a row, taken two at a time from the front, become one
///   `BandedDepthwiseBlock` (the first one's output made a band of rows at a time), and any other
///   separable convolution one of its own.
/// Whether a pass uses the fused blocks is its `ExecutionPlan`'s `fuse`. Planning a planned tree
/// changes nothing.
public enum Fusion {
    /// `layer` as it runs (see above): other containers rebuilt around their planned children,
    /// leaves as they are.
    public static func plan(_ layer: Layer) -> Layer {
        switch layer {
        case let block as BandedDepthwiseBlock: return block
        case let graph as GraphNetwork: return graph.mapLayers(plan)
        case let sequence as Sequential: return plan(sequence)
        case let separable as SeparableConv2D: return BandedDepthwiseBlock(separable: separable) ?? separable
        default:
            let children = layer.children
            guard !children.isEmpty else { return layer }
            var own = layer.parameters[...]
            return layer.replacing(children: children.map(plan), taking: &own)
        }
    }

    static func plan(_ sequence: Sequential) -> Layer {
        if let body = BandedDepthwiseBlock(invertedResidual: sequence) { return body }
        return Sequential(pairingSeparables(foldingActivations(sequence.layers)).map(plan))
    }

    /// `layers` with each activation that follows a convolution without one applied by that convolution.
    static func foldingActivations(_ layers: [Layer]) -> [Layer] {
        var folded: [Layer] = []
        for layer in layers {
            if let relu = layer as? ActivationLayer, let conv = (folded.last as? ActivationFoldable)?.applying(relu.activation) {
                folded[folded.count - 1] = conv
            } else {
                folded.append(layer)
            }
        }
        return folded
    }

    /// Consecutive separable convolutions taken two at a time from the front, each pair one block.
    static func pairingSeparables(_ layers: [Layer]) -> [Layer] {
        var paired: [Layer] = []
        var i = 0
        while i < layers.count {
            if i + 1 < layers.count, let a = layers[i] as? SeparableConv2D, let b = layers[i + 1] as? SeparableConv2D,
               let pair = BandedDepthwiseBlock(first: a, second: b) {
                paired.append(pair)
                i += 2
            } else {
                paired.append(layers[i])
                i += 1
            }
        }
        return paired
    }
}

/// A layer that can apply an activation to its own output as it stores it.
protocol ActivationFoldable {
    /// This layer followed by `activation`, or nil when it already applies one.
    func applying(_ activation: Activation) -> Layer?
}

extension Conv2D: ActivationFoldable {
    func applying(_ activation: Activation) -> Layer? { self.activation == .identity ? Conv2D(self, activation: activation) : nil }
}

extension SeparableConv2D: ActivationFoldable {
    func applying(_ activation: Activation) -> Layer? {
        guard let pointwise = pointwise.applying(activation) as? Conv2D else { return nil }
        return SeparableConv2D(depthwise: depthwise, pointwise: pointwise)
    }
}
