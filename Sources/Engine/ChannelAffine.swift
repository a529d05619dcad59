import CKernels
/// A per-channel affine map and activation on its own: y = activation(x * scale[c] + shift[c]).
/// It is an inference BatchNorm that cannot be folded into a convolution before it — DenseNet's
/// pre-activation layers (BN → ReLU → conv) and a BatchNormalization after a Concat in an
/// imported graph. Either layout; the output keeps the input's.
public final class ChannelAffine: Layer, @unchecked Sendable {
    public let scale: [Float], shift: [Float]
    public let activation: Activation

    public init(scale: [Float], shift: [Float], activation: Activation = .identity) {
        precondition(scale.count == shift.count, "scale and shift lengths differ")
        self.scale = scale
        self.shift = shift
        self.activation = activation
    }

    /// The inference form of `batchNorm`, then `activation`.
    public convenience init(_ batchNorm: BatchNorm, activation: Activation = .identity) {
        self.init(scale: batchNorm.scale, shift: batchNorm.shift, activation: activation)
    }

    public var structure: LayerStructure { .leaf }
    /// The scale and the shift.
    public var parameters: [[Float]] { [scale, shift] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        ChannelAffine(scale: parameters.removeFirst(), shift: parameters.removeFirst(), activation: activation)
    }
    public func operationName(_ plan: ExecutionPlan) -> String { "channel affine" }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let c = input.channels
        precondition(c == scale.count, "channel affine over \(scale.count) channels applied to \(c)")
        let plane = input.layout == .nhwc ? 1 : input.height * input.width
        return Tensor(shape: input.shape, layout: input.layout) { out in
            input.data.withUnsafeBufferPointer { x in
                scale.withUnsafeBufferPointer { s in
                    shift.withUnsafeBufferPointer { t in
                        if input.layout == .nhwc {
                            dx_scale_bias_activation(plan.isa.rawValue, x.baseAddress, out.baseAddress, x.count / max(c, 1),
                                                     Int32(c), s.baseAddress, t.baseAddress, activation.code)
                        } else {
                            var i = 0
                            while i < x.count {
                                for ch in 0..<c { for p in 0..<plane { out[i + ch * plane + p] = x[i + ch * plane + p] * s[ch] + t[ch] } }
                                i += c * plane
                            }
                            activation.apply(out, plan)
                        }
                    }
                }
            }
        }
    }
}
