import Engine

/// Builds engine layers from named tensors, checking every shape against the architecture.
public struct Weights {
    public let file: SafeTensors
    public let epsilon: Float

    public init(file: SafeTensors, batchNormEpsilon: Float) {
        self.file = file
        self.epsilon = batchNormEpsilon
    }

    /// BatchNorm from `<name>.weight/.bias/.running_mean/.running_var`.
    public func batchNorm(_ name: String, channels: Int) throws -> BatchNorm {
        BatchNorm(gamma: try file.tensor("\(name).weight", shape: [channels]),
                  beta: try file.tensor("\(name).bias", shape: [channels]),
                  mean: try file.tensor("\(name).running_mean", shape: [channels]),
                  variance: try file.tensor("\(name).running_var", shape: [channels]), epsilon: epsilon)
    }

    /// Conv2D from `<name>.weight` (OIHW) and optional `<name>.bias`, followed by BatchNorm `bn`.
    public func conv(_ name: String, in cin: Int, out cout: Int, kernel k: Int, stride: Int = 1,
                     padding: PaddingRule, bn: String?, activation: Activation = .identity) throws -> Conv2D {
        let w = try file.tensor("\(name).weight", shape: [cout, cin, k, k])
        let b = file.shape("\(name).bias") != nil ? try file.tensor("\(name).bias", shape: [cout]) : nil
        return Conv2D(weights: w, bias: b, outChannels: cout, inChannels: cin, kernel: (k, k), stride: stride,
                      padding: padding, batchNorm: try bn.map { try batchNorm($0, channels: cout) }, activation: activation)
    }

    /// Depthwise conv from `<name>.weight` (C,1,k,k), followed by BatchNorm `bn`.
    public func depthwise(_ name: String, channels c: Int, kernel k: Int, stride: Int, padding: PaddingRule,
                          bn: String?, activation: Activation) throws -> DepthwiseConv2D {
        DepthwiseConv2D(weights: try file.tensor("\(name).weight", shape: [c, 1, k, k]), channels: c, kernel: k,
                        stride: stride, padding: padding, batchNorm: try bn.map { try batchNorm($0, channels: c) },
                        activation: activation)
    }

    /// Keras SeparableConv2D from `<name>.depthwise` and `<name>.pointwise`, followed by BatchNorm `bn`.
    public func separable(_ name: String, in cin: Int, out cout: Int, kernel k: Int = 3, bn: String,
                          activation: Activation = .identity) throws -> SeparableConv2D {
        SeparableConv2D(depthwise: try file.tensor("\(name).depthwise", shape: [cin, 1, k, k]),
                        pointwise: try file.tensor("\(name).pointwise", shape: [cout, cin, 1, 1]),
                        inChannels: cin, outChannels: cout, kernel: k, padding: .same,
                        batchNorm: try batchNorm(bn, channels: cout), activation: activation)
    }

    /// Dense from `<name>.weight` (out, in) and `<name>.bias`.
    public func dense(_ name: String, in n: Int, out m: Int, activation: Activation = .identity) throws -> Dense {
        Dense(weights: try file.tensor("\(name).weight", shape: [m, n]), bias: try file.tensor("\(name).bias", shape: [m]),
              inFeatures: n, outFeatures: m, activation: activation)
    }
}
