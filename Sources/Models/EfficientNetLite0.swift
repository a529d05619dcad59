import Engine

/// EfficientNet-Lite0 (Tan & Le, 2019; the Lite variant: ReLU6, no squeeze-excitation, fixed
/// stem and head): a 3x3 stem, sixteen MBConv blocks, a 1x1 conv to 1280, pooling and a linear
/// classifier. TensorFlow "same" padding (asymmetric on stride 2). Weights use the keys of
/// efficientnet-lite-pytorch (`_conv_stem`, `_blocks.N._depthwise_conv`, …).
public enum EfficientNetLite0 {
    /// (repeats, kernel, stride, expansion, input channels, output channels) per stage.
    static let stages = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                         (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]

    public static func features(_ w: Weights) throws -> Sequential {
        var layers: [Layer] = [ToNHWC(), try w.conv("_conv_stem", in: 3, out: 32, kernel: 3, stride: 2, padding: .same, bn: "_bn0",
                                          activation: .relu6)]
        var index = 0
        for (repeats, k, stride, expand, cin, cout) in stages {
            for r in 0..<repeats {
                layers.append(try mbConv(w, "_blocks.\(index)", in: r == 0 ? cin : cout, out: cout, kernel: k,
                                         stride: r == 0 ? stride : 1, expand: expand))
                index += 1
            }
        }
        layers.append(try w.conv("_conv_head", in: 320, out: 1280, kernel: 1, padding: .fixed(.none), bn: "_bn1", activation: .relu6))
        return Sequential(layers)
    }

    public static func classifier(_ w: Weights) throws -> Sequential {
        Sequential([GlobalAveragePool(), try w.dense("_fc", in: 1280, out: 1000)])
    }

    static func mbConv(_ w: Weights, _ p: String, in cin: Int, out cout: Int, kernel k: Int, stride: Int, expand: Int) throws -> Layer {
        let hidden = cin * expand
        var body: [Layer] = []
        if expand != 1 {
            body.append(try w.conv("\(p)._expand_conv", in: cin, out: hidden, kernel: 1, padding: .fixed(.none), bn: "\(p)._bn0",
                                   activation: .relu6))
        }
        body.append(try w.depthwise("\(p)._depthwise_conv", channels: hidden, kernel: k, stride: stride, padding: .same,
                                    bn: "\(p)._bn1", activation: .relu6))
        body.append(try w.conv("\(p)._project_conv", in: hidden, out: cout, kernel: 1, padding: .fixed(.none), bn: "\(p)._bn2"))
        let block = Sequential(body)
        return stride == 1 && cin == cout ? Residual(block) : block
    }
}
