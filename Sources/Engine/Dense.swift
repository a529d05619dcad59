/// A fully connected layer on [N, in] (any trailing 1x1 spatial dims are flattened): y = W x + b.
/// Runs the engine's packed GEMM (weights packed once, bias and activation fused; one image's
/// outputs shared among the cores).
public final class Dense: Layer, @unchecked Sendable {
    public let inFeatures: Int, outFeatures: Int
    /// [out, in]
    public let weights: [Float]
    public let bias: [Float]
    public let activation: Activation
    /// `weights` transposed to [in, out] and packed for `PackedGEMM`.
    let panels: [Float]

    public init(weights: [Float], bias: [Float]?, inFeatures: Int, outFeatures: Int, activation: Activation = .identity) {
        precondition(weights.count == inFeatures * outFeatures, "dense weight count")
        self.weights = weights
        self.bias = bias ?? [Float](repeating: 0, count: outFeatures)
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.activation = activation
        var transposed = [Float](repeating: 0, count: weights.count)
        for o in 0..<outFeatures { for i in 0..<inFeatures { transposed[i * outFeatures + o] = weights[o * inFeatures + i] } }
        panels = PackedGEMM.pack(transposed, k: inFeatures, n: outFeatures)
    }

    public var structure: LayerStructure { .leaf }
    /// The weights [out, in] and the bias.
    public var parameters: [[Float]] { [weights, bias] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        Dense(weights: parameters.removeFirst(), bias: parameters.removeFirst(), inFeatures: inFeatures, outFeatures: outFeatures,
              activation: activation)
    }
    public func operationName(_ plan: ExecutionPlan) -> String { "dense" }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let n = input.shape[0]
        precondition(input.count == n * inFeatures, "dense expects \(inFeatures) features per item")
        return Tensor(shape: [n, outFeatures, 1, 1]) { out in
            input.data.withUnsafeBufferPointer { x in
                panels.withUnsafeBufferPointer { p in
                    bias.withUnsafeBufferPointer { b in
                        PackedGEMM.run(x.baseAddress!, rows: n, k: inFeatures, panels: p.baseAddress!, n: outFeatures,
                                       bias: b.baseAddress!, activation: activation, plan, out.baseAddress!)
                    }
                }
            }
        }
    }
}
