/// The trainable tensors of a layer tree, in one fixed order — depth first through `children`,
/// each layer's own `parameters` before its children's (a residual's body before its shortcut; a
/// separable convolution's depthwise step before its pointwise step; a convolution's packed
/// weights then its bias). Training reads them in this order and a trained copy is rebuilt from
/// them in the same order. A generic walk (tinygrad's `get_state_dict` / `load_state_dict`):
/// nothing here knows the kinds of layer.
public enum LayerParameters {
    /// The tree's tensors, or nil when it holds a leaf that cannot be trained (not a `TrainableLayer`).
    public static func of(_ layer: Layer) -> [[Float]]? {
        if case .leaf = layer.structure { return layer is TrainableLayer ? layer.parameters : nil }
        var all = layer.parameters
        for child in layer.children {
            guard let p = of(child) else { return nil }
            all += p
        }
        return all
    }

    /// A copy of `layer` whose tensors are taken from `parameters`, starting at `index` (advanced
    /// past them). The caller checks the count and sizes against `of(layer)` first.
    public static func replacing(_ layer: Layer, with parameters: [[Float]], index: inout Int) -> Layer {
        var rest = parameters[index...]
        let copy = replacing(layer, taking: &rest)
        index = rest.startIndex
        return copy
    }

    /// `layer` rebuilt with its own tensors, then its children's, taken from the front of `parameters`.
    static func replacing(_ layer: Layer, taking parameters: inout ArraySlice<[Float]>) -> Layer {
        if case .leaf = layer.structure { return layer.replacing(children: [], taking: &parameters) }
        // A container's own tensors (if it has any) come first: set aside while the children take theirs.
        var mine = parameters.prefix(layer.parameters.count)
        parameters.removeFirst(mine.count)
        let children = layer.children.map { replacing($0, taking: &parameters) }
        return layer.replacing(children: children, taking: &mine)
    }
}
