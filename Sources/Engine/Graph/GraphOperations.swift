import Foundation

/// Element-wise arithmetic of a graph node.
public enum BinaryOperator: String, Sendable, Codable {
    case add, sub, mul

    @inline(__always) func apply(_ a: Float, _ b: Float) -> Float {
        switch self {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        }
    }
}

/// `a op b` with the broadcasts an imported graph uses: equal sizes; one side a scalar; one side
/// one value per channel ([C, 1, 1] constants, [1, K] biases); one side one value per image and
/// channel ([N, C, 1, 1], squeeze-and-excitation gates on an [N, H, W, C] map). The larger side
/// gives the output's shape and layout; the order of the operands is kept (for `sub`).
public enum Broadcast {
    public static func apply(_ op: BinaryOperator, _ a: Tensor, _ b: Tensor, _ activation: Activation,
                             _ plan: ExecutionPlan) -> Tensor {
        if op == .add, a.count == b.count, a.shape == b.shape, a.layout == b.layout {
            return Elementwise.add(a, b, activation: activation, plan)
        }
        let aIsBig = a.count >= b.count
        let big = aIsBig ? a : b, small = aIsBig ? b : a
        let n = max(big.shape[0], 1)
        let perImage = big.count / n
        let channels = big.shape.count == 4 ? big.channels : big.shape.last!
        return Tensor(shape: big.shape, layout: big.layout) { out in
            big.data.withUnsafeBufferPointer { x in
                small.data.withUnsafeBufferPointer { y in
                    let index: (Int) -> Int
                    if small.count == big.count { index = { $0 } }
                    else if small.count == 1 { index = { _ in 0 } }
                    else if small.count == channels { index = { $0 % channels } }
                    else if small.count == n * channels { index = { ($0 / perImage) * channels + $0 % channels } }
                    else { preconditionFailure("cannot broadcast \(small.shape) over \(big.shape)") }
                    for i in 0..<big.count {
                        let s = y[index(i)]
                        out[i] = activation.apply(aIsBig ? op.apply(x[i], s) : op.apply(s, x[i]))
                    }
                }
            }
        }
    }
}

/// Concatenation along the channels: NHWC maps of one batch and size, or [N, K(, 1, 1)] vectors.
public enum ChannelConcat {
    public static func apply(_ parts: [Tensor]) -> Tensor {
        let first = parts[0]
        let map = first.layout == .nhwc
        let rows = map ? first.batch * first.height * first.width : first.batch
        let widths = parts.map { $0.count / rows }
        let total = widths.reduce(0, +)
        let shape = map ? [first.batch, first.height, first.width, total]
                        : (first.shape.count == 4 ? [first.batch, total, 1, 1] : [first.batch, total])
        return Tensor(shape: shape, layout: first.layout) { out in
            var offset = 0
            for (part, c) in zip(parts, widths) {
                precondition(part.count == rows * c, "concat of \(part.shape) with \(first.shape)")
                part.data.withUnsafeBufferPointer { x in
                    for r in 0..<rows {
                        (out.baseAddress! + r * total + offset).update(from: x.baseAddress! + r * c, count: c)
                    }
                }
                offset += c
            }
        }
    }
}

/// [N, …] → [N, K], in PyTorch's (NCHW) order: an NHWC map is reordered first when it has more
/// than one pixel.
public final class FlattenLayer: Layer, @unchecked Sendable {
    public init() {}
    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "flatten" }
    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let n = input.shape[0]
        let ordered = input.shape.count == 4 && input.layout == .nhwc && input.height * input.width > 1 ? input.toNCHW() : input
        return Tensor(shape: [n, ordered.count / max(n, 1)], data: ordered.data)
    }
}

/// [N, K] → [N, K, 1, 1] (the same values).
public final class UnflattenLayer: Layer, @unchecked Sendable {
    public init() {}
    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "reshape" }
    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let n = input.shape[0]
        return Tensor(shape: [n, input.count / max(n, 1), 1, 1], data: input.data)
    }
}

/// Zeros around an NHWC map (an ONNX Pad that no convolution after it could take in).
public final class ZeroPad: Layer, @unchecked Sendable {
    public let padding: Padding
    public init(_ padding: Padding) { self.padding = padding }
    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "pad" }
    public func forward(_ nhwc: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let x = nhwc.toNHWC(plan)
        let (n, h, w, c) = (x.batch, x.height, x.width, x.channels)
        let oh = h + padding.top + padding.bottom, ow = w + padding.left + padding.right
        return Tensor(shape: [n, oh, ow, c], layout: .nhwc) { out in
            out.update(repeating: 0)
            x.data.withUnsafeBufferPointer { src in
                for b in 0..<n { for y in 0..<h {
                    (out.baseAddress! + ((b * oh + y + padding.top) * ow + padding.left) * c)
                        .update(from: src.baseAddress! + (b * h + y) * w * c, count: w * c)
                } }
            }
        }
    }
}

/// Element-wise functions beyond the fused ReLU/ReLU6: sigmoid, hard sigmoid, hard swish, leaky
/// ReLU and a general clip, as ONNX defines them.
public enum PointwiseFunction: Sendable, Equatable, Codable {
    case sigmoid, hardSigmoid(alpha: Float, beta: Float), hardSwish, leakyRelu(alpha: Float), clip(min: Float, max: Float)

    @inline(__always) func apply(_ x: Float) -> Float {
        switch self {
        case .sigmoid: return 1 / (1 + expf(-x))
        case let .hardSigmoid(alpha, beta): return Swift.max(0, Swift.min(1, alpha * x + beta))
        case .hardSwish: return x * Swift.max(0, Swift.min(1, x / 6 + 0.5))
        case let .leakyRelu(alpha): return x < 0 ? alpha * x : x
        case let .clip(lo, hi): return Swift.min(Swift.max(x, lo), hi)
        }
    }
}

/// A `PointwiseFunction` on every value (either layout; the output keeps the input's).
public final class PointwiseLayer: Layer, @unchecked Sendable {
    public let function: PointwiseFunction
    public init(_ function: PointwiseFunction) { self.function = function }
    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "pointwise \(function)" }
    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        Tensor(shape: input.shape, layout: input.layout) { out in
            input.data.withUnsafeBufferPointer { x in for i in 0..<x.count { out[i] = function.apply(x[i]) } }
        }
    }
}

/// Softmax over the last axis of [N, K] (in Double, like `Probabilities.softmax`).
public final class SoftmaxLayer: Layer, @unchecked Sendable {
    public init() {}
    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "softmax" }
    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let n = input.shape[0], k = input.count / max(n, 1)
        return Tensor(shape: input.shape, layout: input.layout) { out in
            for i in 0..<n {
                let row = Probabilities.softmax(Array(input.data[(i * k)..<(i * k + k)]))
                for j in 0..<k { out[i * k + j] = row[j] }
            }
        }
    }
}
