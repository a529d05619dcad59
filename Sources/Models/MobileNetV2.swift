import Engine

/// MobileNetV2 (Sandler et al., 2018), as torchvision defines it: a 3x3 stem, inverted residual
/// blocks (expand 1x1 → depthwise 3x3 → linear project 1x1, ReLU6, residual when the shape
/// is kept), a 1x1 conv to 1280, global average pooling and a linear classifier.
/// Weights use torchvision's state_dict keys; symmetric (PyTorch) padding.
public enum MobileNetV2 {
    /// (expansion t, output channels c, repeats n, first stride s), from the paper's Table 2.
    static let settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    public static func features(_ w: Weights) throws -> Sequential {
        var layers: [Layer] = [ToNHWC(), try w.conv("features.0.0", in: 3, out: 32, kernel: 3, stride: 2, padding: .fixed(.symmetric(1)),
                                          bn: "features.0.1", activation: .relu6)]
        var cin = 32, index = 1
        for (t, c, n, s) in settings {
            for i in 0..<n {
                layers.append(try invertedResidual(w, "features.\(index).conv", in: cin, out: c, stride: i == 0 ? s : 1, expand: t))
                cin = c
                index += 1
            }
        }
        layers.append(try w.conv("features.18.0", in: 320, out: 1280, kernel: 1, padding: .fixed(.none), bn: "features.18.1",
                                 activation: .relu6))
        return Sequential(layers)
    }

    public static func classifier(_ w: Weights) throws -> Sequential {
        Sequential([GlobalAveragePool(), try w.dense("classifier.1", in: 1280, out: 1000)])
    }

    static func invertedResidual(_ w: Weights, _ p: String, in cin: Int, out cout: Int, stride: Int, expand t: Int) throws -> Layer {
        let hidden = cin * t
        var body: [Layer] = []
        var i = 0
        if t != 1 {
            body.append(try w.conv("\(p).0.0", in: cin, out: hidden, kernel: 1, padding: .fixed(.none), bn: "\(p).0.1", activation: .relu6))
            i = 1
        }
        body.append(try w.depthwise("\(p).\(i).0", channels: hidden, kernel: 3, stride: stride, padding: .fixed(.symmetric(1)),
                                    bn: "\(p).\(i).1", activation: .relu6))
        body.append(try w.conv("\(p).\(i + 1)", in: hidden, out: cout, kernel: 1, padding: .fixed(.none), bn: "\(p).\(i + 2)"))
        let block = Sequential(body)
        return stride == 1 && cin == cout ? Residual(block) : block
    }
}
