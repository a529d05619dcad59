import CKernels
import Foundation

/// Element-wise activations, fused into the layer that produces them.
public enum Activation: Sendable, Equatable {
    case identity, relu, relu6

    @inline(__always) public func apply(_ x: Float) -> Float {
        switch self {
        case .identity: return x
        case .relu: return max(x, 0)
        case .relu6: return min(max(x, 0), 6)
        }
    }

    /// Applies the activation to `buffer` in place, with `plan.isa`'s kernel.
    public func apply(_ buffer: UnsafeMutableBufferPointer<Float>, _ plan: ExecutionPlan) {
        guard self != .identity, let p = buffer.baseAddress else { return }
        dx_activation(plan.isa.rawValue, p, p, buffer.count, code)
    }

    /// The code the C kernels take.
    var code: Int32 {
        switch self {
        case .identity: return 0
        case .relu: return 1
        case .relu6: return 2
        }
    }
}

/// Probability outputs over the last axis of an [N, K] tensor.
public enum Probabilities {
    public static func softmax(_ logits: [Float]) -> [Float] {
        let m = logits.max() ?? 0
        let e = logits.map { exp(Double($0 - m)) }
        let s = e.reduce(0, +)
        return e.map { Float($0 / s) }
    }

    public static func sigmoid(_ x: Float) -> Float { Float(1 / (1 + exp(-Double(x)))) }
}
