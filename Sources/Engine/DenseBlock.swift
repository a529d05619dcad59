import CKernels

/// One of DenseNet's dense layers: BatchNorm → ReLU (a `ChannelAffine`, pre-activation: it cannot
/// fold into a convolution), a 1x1 bottleneck convolution with the next BatchNorm folded in and
/// ReLU applied as it stores, and a 3x3 convolution making `growth` new channels.
public struct DenseUnit: Sendable {
    public let norm: ChannelAffine
    public let bottleneck: Conv2D
    public let conv: Conv2D

    public init(norm: ChannelAffine, bottleneck: Conv2D, conv: Conv2D) {
        precondition(norm.scale.count == bottleneck.inChannels && bottleneck.outChannels == conv.inChannels && bottleneck.isPointwise,
                     "dense unit: channel counts do not chain, or the bottleneck is not a 1x1 stride-1 convolution")
        self.norm = norm
        self.bottleneck = bottleneck
        self.conv = conv
    }
}

/// A DenseNet dense block (Huang et al., 2017) without a copy per concatenation: the block's
/// output [N, H, W, C_in + L·growth] (NHWC) is allocated once; the input fills its first channels,
/// and each unit reads the prefix of channels made so far (its BatchNorm + ReLU reads the strided
/// prefix in place, into the contiguous rows its 1x1 GEMM takes) and writes its `growth` new
/// channels into its own slice. A naive concatenation copies every map again at each of the L
/// layers (O(L²) copies per block); here each value is written once.
///
/// A leaf for the generic walk (`parameters` are each unit's scale, shift, bottleneck weights and
/// bias, conv weights and bias, in order); not trainable (`TrainableLayer`), so fine-tuning stops
/// at the block before. Its units' convolutions run whatever path their shape takes (the 1x1 one
/// GEMM over the pixels, the 3x3 Winograd) and are each profiled under their own name.
public final class DenseBlock: Layer, @unchecked Sendable {
    public let units: [DenseUnit]
    public let inChannels: Int
    public let growth: Int
    public var outChannels: Int { inChannels + units.count * growth }

    public init(inChannels: Int, units: [DenseUnit]) {
        precondition(!units.isEmpty, "a dense block needs a unit")
        let growth = units[0].conv.outChannels
        for (i, u) in units.enumerated() {
            precondition(u.norm.scale.count == inChannels + i * growth && u.conv.outChannels == growth,
                         "dense unit \(i): expects \(inChannels + i * growth) channels in and \(growth) out")
            precondition(u.conv.stride == 1, "dense unit \(i): a stride would change the map's size")
        }
        self.inChannels = inChannels
        self.growth = growth
        self.units = units
    }

    public var structure: LayerStructure { .leaf }
    public var parameters: [[Float]] {
        units.flatMap { $0.norm.parameters + $0.bottleneck.parameters + $0.conv.parameters }
    }
    public func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        let rebuilt = units.map { u in
            DenseUnit(norm: u.norm.replacing(children: [], taking: &parameters) as! ChannelAffine,
                      bottleneck: u.bottleneck.replacing(children: [], taking: &parameters) as! Conv2D,
                      conv: u.conv.replacing(children: [], taking: &parameters) as! Conv2D)
        }
        return DenseBlock(inChannels: inChannels, units: rebuilt)
    }
    public func operationName(_ plan: ExecutionPlan) -> String { "dense block (all; its parts listed too)" }

    public func forward(_ nhwc: Tensor, _ plan: ExecutionPlan) -> Tensor {
        let input = nhwc.toNHWC(plan)
        precondition(input.channels == inChannels, "dense block expects \(inChannels) channels, got \(input.channels)")
        let (n, h, w) = (input.batch, input.height, input.width)
        let pixels = n * h * w, total = outChannels
        return Tensor(shape: [n, h, w, total], layout: .nhwc) { out in
            let base = out.baseAddress!
            input.data.withUnsafeBufferPointer { src in
                Self.copy(src.baseAddress!, stride: inChannels, into: base, stride: total, channels: inChannels, pixels: pixels)
            }
            // One scratch array for every unit's BN + ReLU rows (sized for the widest prefix), so
            // the pool serves it again for the next micro-batch (the prefixes' sizes all differ).
            ActivationBuffers.withScratch(pixels * (total - growth)) { rows in
                for (i, unit) in units.enumerated() {
                    let cin = inChannels + i * growth
                    plan.timedVoid("dense BN+ReLU (strided prefix)") {
                        unit.norm.apply(base, stride: total, pixels: pixels, plan, into: rows)
                    }
                    var b = plan.timed(unit.bottleneck.operationName(plan)) {
                        Tensor(shape: [n, h, w, unit.bottleneck.outChannels], layout: .nhwc) {
                            unit.bottleneck.multiply(rows, rows: pixels, k: cin, plan, $0.baseAddress!)
                        }
                    }
                    var c = plan.run(unit.conv, b)
                    ActivationBuffers.recycle(&b)
                    c.data.withUnsafeBufferPointer { made in
                        Self.copy(made.baseAddress!, stride: growth, into: base + cin, stride: total, channels: growth, pixels: pixels)
                    }
                    ActivationBuffers.recycle(&c)
                }
            }
        }
    }

    /// Copies `channels` values per pixel from rows `stride` apart into rows `stride` apart.
    static func copy(_ src: UnsafePointer<Float>, stride s: Int, into dst: UnsafeMutablePointer<Float>, stride d: Int,
                     channels: Int, pixels: Int) {
        for p in 0..<pixels { (dst + p * d).update(from: src + p * s, count: channels) }
    }
}

extension ChannelAffine {
    /// out[p][c] = act(x[p·stride + c] · scale[c] + shift[c]) for the first `scale.count` channels
    /// of `pixels` rows `stride` apart (a prefix of a wider map, read in place), into contiguous
    /// rows. The same arithmetic as `forward`, so the values are `forward`'s on the copied prefix.
    func apply(_ x: UnsafePointer<Float>, stride: Int, pixels: Int, _ plan: ExecutionPlan, into out: UnsafeMutablePointer<Float>) {
        let c = scale.count
        scale.withUnsafeBufferPointer { sb in
            shift.withUnsafeBufferPointer { tb in
                let (s, t) = (sb.baseAddress!, tb.baseAddress!)
                Parallelism.outputRows(images: 1, rows: pixels, plan) { _, rows in
                    // Row by row through `forward`'s kernel, so that the bits are its bits on every ISA.
                    for p in rows {
                        dx_scale_bias_activation(plan.isa.rawValue, x + p * stride, out + p * c, 1, Int32(c), s, t, activation.code)
                    }
                }
            }
        }
    }
}
