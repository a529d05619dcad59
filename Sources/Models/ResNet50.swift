import Engine

/// ResNet-50 (He et al., 2016) as torchvision defines it (v1.5: the stride on the 3x3 of a
/// bottleneck, not the first 1x1): a 7x7 stride-2 stem with BatchNorm and ReLU, a 3x3 stride-2
/// max pool, four stages of 3, 4, 6 and 3 bottlenecks (1x1 → 3x3 → 1x1 ×4 channels, BatchNorm
/// folded into each convolution, ReLU after the first two and after the residual sum; a
/// projection shortcut — 1x1 conv + BatchNorm, with the stage's stride — on each stage's first
/// block), global average pooling and a linear classifier (2048 → 1000). Weights use
/// torchvision's state_dict keys (`layer1.0.conv1.weight`, `layer1.0.downsample.0.weight`, …);
/// symmetric (PyTorch) padding.
public enum ResNet50 {
    /// (bottleneck width, blocks, first stride) of each stage.
    static let stages = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]
    static let expansion = 4

    public static func features(_ w: Weights) throws -> Sequential {
        var layers: [Layer] = [
            ToNHWC(),
            try w.conv("conv1", in: 3, out: 64, kernel: 7, stride: 2, padding: .fixed(.symmetric(3)), bn: "bn1", activation: .relu),
            MaxPool2D(kernel: 3, stride: 2, padding: .fixed(.symmetric(1))),
        ]
        var cin = 64
        for (s, (width, count, stride)) in stages.enumerated() {
            for i in 0..<count {
                layers.append(try bottleneck(w, "layer\(s + 1).\(i)", in: cin, width: width, stride: i == 0 ? stride : 1))
                cin = width * expansion
            }
        }
        return Sequential(layers)
    }

    public static func classifier(_ w: Weights) throws -> Sequential {
        Sequential([GlobalAveragePool(), try w.dense("fc", in: 2048, out: w.file.shape("fc.weight")?.first ?? 1000)])
    }

    /// relu(conv3(conv2(conv1(x))) + shortcut(x)); the shortcut projects when the shape changes.
    static func bottleneck(_ w: Weights, _ p: String, in cin: Int, width: Int, stride: Int) throws -> Layer {
        let cout = width * expansion
        let body = Sequential([
            try w.conv("\(p).conv1", in: cin, out: width, kernel: 1, padding: .fixed(.none), bn: "\(p).bn1", activation: .relu),
            try w.conv("\(p).conv2", in: width, out: width, kernel: 3, stride: stride, padding: .fixed(.symmetric(1)),
                       bn: "\(p).bn2", activation: .relu),
            try w.conv("\(p).conv3", in: width, out: cout, kernel: 1, padding: .fixed(.none), bn: "\(p).bn3"),
        ])
        let projects = stride != 1 || cin != cout
        let shortcut = projects ? try w.conv("\(p).downsample.0", in: cin, out: cout, kernel: 1, stride: stride,
                                             padding: .fixed(.none), bn: "\(p).downsample.1") : nil
        return Residual(body, shortcut: shortcut, activation: .relu)
    }
}
