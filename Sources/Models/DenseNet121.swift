import Engine

/// DenseNet-121 (Huang et al., 2017), as torchvision defines it: a 7x7 stride-2 stem with
/// BatchNorm and ReLU, a 3x3 stride-2 max pool, four dense blocks of 6, 12, 24 and 16 layers
/// (growth 32, bottleneck 4 × 32 = 128 channels) with transitions between them (BatchNorm → ReLU →
/// 1x1 conv halving the channels → 2x2 average pool), a final BatchNorm and ReLU (1024 channels),
/// global average pooling and a linear classifier. Weights use torchvision's state_dict keys
/// (`features.denseblock1.denselayer1.norm1.weight`, …); symmetric (PyTorch) padding.
///
/// The layers are pre-activation (BN → ReLU → conv), so each dense layer's first BatchNorm runs as
/// a `ChannelAffine` over the channels made so far; its second one follows the 1x1 conv and folds
/// into it. The blocks are `DenseBlock`s: one output map per block, each layer writing its 32
/// channels into it (no concatenation copies). A transition pools before its 1x1 convolution
/// (both linear: the same map, up to rounding, at a quarter of the GEMM's work).
public enum DenseNet121 {
    /// Layers per dense block, from the paper's Table 1.
    static let blocks = [6, 12, 24, 16]
    static let growth = 32, bottleneckWidth = 4 * 32

    public static func features(_ w: Weights) throws -> Sequential {
        var layers: [Layer] = [
            ToNHWC(),
            try w.conv("features.conv0", in: 3, out: 64, kernel: 7, stride: 2, padding: .fixed(.symmetric(3)),
                       bn: "features.norm0", activation: .relu),
            MaxPool2D(kernel: 3, stride: 2, padding: .fixed(.symmetric(1))),
        ]
        var channels = 64
        for (b, count) in blocks.enumerated() {
            let block = try denseBlock(w, "features.denseblock\(b + 1)", in: channels, layers: count)
            layers.append(block)
            channels = block.outChannels
            if b < blocks.count - 1 {
                let p = "features.transition\(b + 1)"
                layers.append(ChannelAffine(try w.batchNorm("\(p).norm", channels: channels), activation: .relu))
                layers.append(AvgPool2D(kernel: 2, stride: 2, padding: .fixed(.none)))
                layers.append(try w.conv("\(p).conv", in: channels, out: channels / 2, kernel: 1, padding: .fixed(.none), bn: nil))
                channels /= 2
            }
        }
        layers.append(ChannelAffine(try w.batchNorm("features.norm5", channels: channels), activation: .relu))
        return Sequential(layers)
    }

    public static func classifier(_ w: Weights) throws -> Sequential {
        Sequential([GlobalAveragePool(), try w.dense("classifier", in: 1024, out: w.file.shape("classifier.weight")?.first ?? 1000)])
    }

    static func denseBlock(_ w: Weights, _ p: String, in cin: Int, layers count: Int) throws -> DenseBlock {
        let units = try (0..<count).map { i -> DenseUnit in
            let q = "\(p).denselayer\(i + 1)", c = cin + i * growth
            return DenseUnit(
                norm: ChannelAffine(try w.batchNorm("\(q).norm1", channels: c), activation: .relu),
                bottleneck: try w.conv("\(q).conv1", in: c, out: bottleneckWidth, kernel: 1, padding: .fixed(.none),
                                       bn: "\(q).norm2", activation: .relu),
                conv: try w.conv("\(q).conv2", in: bottleneckWidth, out: growth, kernel: 3, padding: .fixed(.symmetric(1)), bn: nil))
        }
        return DenseBlock(inChannels: cin, units: units)
    }
}
