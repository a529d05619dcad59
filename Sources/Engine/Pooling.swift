import CKernels

/// Max pooling on NHWC maps; padded positions never win (they count as -infinity, as in Keras
/// and PyTorch). Runs along contiguous channels.
public final class MaxPool2D: Layer, @unchecked Sendable {
    public let kernel: Int, stride: Int
    public let padding: PaddingRule

    public init(kernel: Int, stride: Int, padding: PaddingRule) {
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "max pool" }

    public func forward(_ nhwc: Tensor, _ plan: ExecutionPlan) -> Tensor {
        Pool.run(nhwc.toNHWC(plan), kernel: kernel, stride: stride, padding: padding, average: false, plan)
    }
}

extension MaxPool2D: AddingLayer {
    public func forward(_ input: Tensor, adding addend: Tensor, _ plan: ExecutionPlan) -> Tensor {
        plan.timed("max pool + residual add") {
            Pool.run(input.toNHWC(plan), kernel: kernel, stride: stride, padding: padding, average: false, adding: addend, plan)
        }
    }
}

/// Average pooling on NHWC maps; padded positions are excluded from the average (count_include_pad=False).
public final class AvgPool2D: Layer, @unchecked Sendable {
    public let kernel: Int, stride: Int
    public let padding: PaddingRule

    public init(kernel: Int, stride: Int, padding: PaddingRule) {
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "avg pool" }

    public func forward(_ nhwc: Tensor, _ plan: ExecutionPlan) -> Tensor {
        Pool.run(nhwc.toNHWC(plan), kernel: kernel, stride: stride, padding: padding, average: true, plan)
    }
}

enum Pool {
    /// The pooled map, plus `addend` (NHWC, the output's shape) when given.
    static func run(_ input: Tensor, kernel: Int, stride: Int, padding: PaddingRule, average: Bool,
                    adding addend: Tensor? = nil, _ plan: ExecutionPlan) -> Tensor {
        let (n, h, w, c) = (input.batch, input.height, input.width, input.channels)
        let (oh, ow, pad) = padding.output(height: h, width: w, kernel: kernel, stride: stride)
        if let addend {
            precondition(addend.layout == .nhwc && addend.shape == [n, oh, ow, c],
                         "cannot add \(addend.shape) to a pooled map [\(n), \(oh), \(ow), \(c)]")
        }
        return Tensor(shape: [n, oh, ow, c], layout: .nhwc) { out in
            input.data.withUnsafeBufferPointer { x in
                (addend?.data ?? []).withUnsafeBufferPointer { r in
                    dx_pool_nhwc(plan.isa.rawValue, x.baseAddress, Int32(n), Int32(h), Int32(w), Int32(c), Int32(kernel),
                                 Int32(stride), Int32(pad.top), Int32(pad.left), Int32(oh), Int32(ow), average ? 1 : 0,
                                 addend == nil ? nil : r.baseAddress, out.baseAddress)
                }
            }
        }
    }
}

/// Mean over each channel's plane: → [N, C] (stored as [N, C, 1, 1], identical in either layout).
public final class GlobalAveragePool: Layer, @unchecked Sendable {
    public init() {}

    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func operationName(_ plan: ExecutionPlan) -> String { "global avg pool" }

    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let (n, c, plane) = (input.batch, input.channels, input.height * input.width)
        return Tensor(shape: [n, c, 1, 1]) { out in
            input.data.withUnsafeBufferPointer { xb in
                let x = xb.baseAddress!
                var sums = [Double](repeating: 0, count: c)
                for img in 0..<n {
                    for ch in 0..<c { sums[ch] = 0 }
                    if input.layout == .nhwc {
                        for p in 0..<plane {
                            let row = x + (img * plane + p) * c
                            for ch in 0..<c { sums[ch] += Double(row[ch]) }
                        }
                    } else {
                        for ch in 0..<c {
                            let p = x + (img * c + ch) * plane
                            for j in 0..<plane { sums[ch] += Double(p[j]) }
                        }
                    }
                    for ch in 0..<c { out[img * c + ch] = Float(sums[ch] / Double(plane)) }
                }
            }
        }
    }
}
