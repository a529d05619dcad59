import Engine

/// Xception (Chollet, 2017), as Keras Applications builds it: entry flow with strided
/// residual shortcuts, eight middle-flow blocks of three separable convolutions, exit flow.
/// Weights use Keras' layer names (see scripts/convert_weights.py). Output: 2048 feature maps.
/// Each top-level layer is one of Keras' blocks (block1's two convolutions are separate layers).
public enum Xception {
    public static func features(_ w: Weights) throws -> Sequential {
        var layers: [Layer] = [
            ToNHWC(),
            try w.conv("block1_conv1", in: 3, out: 32, kernel: 3, stride: 2, padding: .fixed(.none), bn: "block1_conv1_bn", activation: .relu),
            try w.conv("block1_conv2", in: 32, out: 64, kernel: 3, padding: .fixed(.none), bn: "block1_conv2_bn", activation: .relu),
        ]
        // Entry flow: (block, in, out, relu first?)
        for (block, cin, cout, reluFirst) in [(2, 64, 128, false), (3, 128, 256, true), (4, 256, 728, true)] {
            layers.append(try entryBlock(w, block: block, in: cin, mid: cout, out: cout, reluFirst: reluFirst))
        }
        // Middle flow: eight residual blocks of relu → sepconv → bn, three times.
        for block in 5...12 {
            var body: [Layer] = []
            for i in 1...3 {
                body.append(ActivationLayer(.relu))
                body.append(try w.separable("block\(block)_sepconv\(i)", in: 728, out: 728, bn: "block\(block)_sepconv\(i)_bn"))
            }
            layers.append(Residual(Sequential(body)))
        }
        // Exit flow.
        layers.append(try entryBlock(w, block: 13, in: 728, mid: 728, out: 1024, reluFirst: true))
        layers.append(Sequential([
            try w.separable("block14_sepconv1", in: 1024, out: 1536, bn: "block14_sepconv1_bn", activation: .relu),
            try w.separable("block14_sepconv2", in: 1536, out: 2048, bn: "block14_sepconv2_bn", activation: .relu),
        ]))
        return Sequential(layers)
    }

    /// sepconv(mid) → bn → relu → sepconv(out) → bn → maxpool 3/2, plus a strided 1x1 shortcut.
    static func entryBlock(_ w: Weights, block: Int, in cin: Int, mid: Int, out cout: Int, reluFirst: Bool) throws -> Layer {
        var body: [Layer] = reluFirst ? [ActivationLayer(.relu)] : []
        body.append(try w.separable("block\(block)_sepconv1", in: cin, out: mid, bn: "block\(block)_sepconv1_bn", activation: .relu))
        body.append(try w.separable("block\(block)_sepconv2", in: mid, out: cout, bn: "block\(block)_sepconv2_bn"))
        body.append(MaxPool2D(kernel: 3, stride: 2, padding: .same))
        let shortcut = try w.conv("block\(block)_shortcut", in: cin, out: cout, kernel: 1, stride: 2, padding: .same,
                                  bn: "block\(block)_shortcut_bn")
        return Residual(Sequential(body), shortcut: shortcut)
    }
}
