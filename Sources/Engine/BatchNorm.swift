/// Inference BatchNorm parameters, folded into the preceding convolution at load time:
/// y = gamma * (x - mean) / sqrt(var + eps) + beta  ==  x * scale + shift.
public struct BatchNorm: Sendable {
    public var gamma: [Float], beta: [Float], mean: [Float], variance: [Float]
    public var epsilon: Float

    public init(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Float) {
        self.gamma = gamma; self.beta = beta; self.mean = mean; self.variance = variance; self.epsilon = epsilon
    }

    public var scale: [Float] { (0..<gamma.count).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() } }
    public var shift: [Float] {
        let s = scale
        return (0..<gamma.count).map { beta[$0] - mean[$0] * s[$0] }
    }

    /// Folds into weights laid out [Cout, …] and an optional bias; returns the new weights and bias.
    public func fold(weights: [Float], bias: [Float]?) -> (weights: [Float], bias: [Float]) {
        let s = scale, t = shift
        let per = weights.count / s.count
        var w = weights
        w.withUnsafeMutableBufferPointer { p in for o in 0..<s.count { let f = s[o]; for j in 0..<per { p[o * per + j] *= f } } }
        let b = (0..<s.count).map { o in (bias?[o] ?? 0) * s[o] + t[o] }
        return (w, b)
    }
}
