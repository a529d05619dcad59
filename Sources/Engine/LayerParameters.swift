/// The trainable tensors of a layer tree, in one fixed order (depth first; a residual's body
/// before its shortcut; a separable convolution's depthwise step before its pointwise step), each
/// convolution contributing its packed weights then its bias. Training reads them in this order
/// and a trained copy is rebuilt from them in the same order.
public enum LayerParameters {
    /// The layer's tensors, or nil when it holds a kind of layer that cannot be trained.
    public static func of(_ layer: Layer) -> [[Float]]? {
        switch layer {
        case let l as Conv2D: return [l.weights, l.bias]
        case let l as DepthwiseConv2D: return [l.weights, l.bias]
        case let l as SeparableConv2D: return [l.depthwise.weights, l.depthwise.bias, l.pointwise.weights, l.pointwise.bias]
        case let l as Sequential:
            var all: [[Float]] = []
            for child in l.layers { guard let p = of(child) else { return nil }; all += p }
            return all
        case let l as Residual:
            guard let body = of(l.body) else { return nil }
            guard let shortcut = l.shortcut else { return body }
            guard let s = of(shortcut) else { return nil }
            return body + s
        case is ActivationLayer, is MaxPool2D, is AvgPool2D: return []
        default: return nil
        }
    }

    /// A copy of `layer` whose tensors are taken from `parameters`, starting at `index` (advanced
    /// past them). The caller checks the count and sizes against `of(layer)` first.
    public static func replacing(_ layer: Layer, with parameters: [[Float]], index: inout Int) -> Layer {
        func next() -> [Float] { defer { index += 1 }; return parameters[index] }
        switch layer {
        case let l as Conv2D: return Conv2D(packed: next(), bias: next(), like: l)
        case let l as DepthwiseConv2D: return DepthwiseConv2D(packed: next(), bias: next(), like: l)
        case let l as SeparableConv2D:
            return SeparableConv2D(depthwise: DepthwiseConv2D(packed: next(), bias: next(), like: l.depthwise),
                                   pointwise: Conv2D(packed: next(), bias: next(), like: l.pointwise))
        case let l as Sequential: return Sequential(l.layers.map { replacing($0, with: parameters, index: &index) })
        case let l as Residual:
            let body = replacing(l.body, with: parameters, index: &index)
            return Residual(body, shortcut: l.shortcut.map { replacing($0, with: parameters, index: &index) }, activation: l.activation)
        default: return layer
        }
    }
}
