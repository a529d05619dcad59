import CKernels

/// A dense Float32 tensor, row-major, batch first. Network inputs are NCHW (the PyTorch
/// convention); inside a network feature maps are NHWC, so that 1x1 convolutions are one GEMM
/// over the whole batch and depthwise kernels run along contiguous channels. `layout` says which.
public struct Tensor: Sendable {
    public enum Layout: Sendable { case nchw, nhwc }

    public var shape: [Int]
    public var data: [Float]
    public var layout: Layout

    public init(shape: [Int], data: [Float], layout: Layout = .nchw) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not hold \(data.count) values")
        self.shape = shape
        self.data = data
        self.layout = layout
    }

    public init(zeros shape: [Int], layout: Layout = .nchw) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)), layout: layout)
    }

    /// Storage for `shape` whose values `body` must all write: a reused activation array of the
    /// same size when the thread has one free (`ActivationBuffers`), else a new one.
    public init(shape: [Int], layout: Layout = .nchw, fill body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.layout = layout
        if var reused = ActivationBuffers.current.take(count) {
            reused.withUnsafeMutableBufferPointer { body($0) }
            self.data = reused
        } else {
            self.data = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                body(buffer)
                initialized = count
            }
        }
    }

    public var count: Int { data.count }
    public var batch: Int { shape[0] }
    public var channels: Int { layout == .nchw ? shape[1] : shape[3] }
    public var height: Int { layout == .nchw ? shape[2] : shape[1] }
    public var width: Int { layout == .nchw ? shape[3] : shape[2] }

    /// The same values in NHWC order (converted with `plan.isa`'s kernel).
    public func toNHWC(_ plan: ExecutionPlan = .default) -> Tensor {
        guard layout == .nchw else { return self }
        let (n, c, h, w) = (batch, channels, height, width)
        return Tensor(shape: [n, h, w, c], layout: .nhwc) { out in
            data.withUnsafeBufferPointer {
                dx_nchw_to_nhwc(plan.isa.rawValue, $0.baseAddress, Int32(n), Int32(c), h * w, out.baseAddress)
            }
        }
    }

    /// The same values in NCHW order.
    public func toNCHW() -> Tensor {
        guard layout == .nhwc else { return self }
        let (n, c, h, w) = (batch, channels, height, width)
        return Tensor(shape: [n, c, h, w], layout: .nchw) { out in
            data.withUnsafeBufferPointer { x in
                for b in 0..<n { for p in 0..<(h * w) { for ch in 0..<c {
                    out[(b * c + ch) * h * w + p] = x[(b * h * w + p) * c + ch]
                } } }
            }
        }
    }
}

/// Converts a network's NCHW input to the NHWC layout its layers run in.
public final class ToNHWC: Layer, @unchecked Sendable {
    public init() {}
    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] { [] }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer { self }
    public func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor { input.toNHWC(plan) }
}
