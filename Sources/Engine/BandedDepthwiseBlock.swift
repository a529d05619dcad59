import CKernels
import Foundation

/// [expand →] depthwise → pointwise, run a band of output rows at a time: each image's band of
/// expanded rows computed into a small buffer, filtered by the depthwise kernel into another and
/// projected straight into the output, so the expanded map — a block's largest (112x112x96
/// floats is 4.8 MB an image) — never leaves the core's cache; rows shared by consecutive bands
/// are kept, not recomputed. One schedule for the three patterns the fusion step finds (`Kind`,
/// `Fusion.plan`):
/// - an inverted residual block's body, [expand 1x1 →] depthwise → project 1x1 (MobileNetV2,
///   EfficientNet-Lite);
/// - a separable convolution, depthwise → pointwise (Xception);
/// - two separable convolutions in a row (Xception's blocks), the first one the expanding step:
///   its output made a band of rows at a time like an expansion, never written out whole.
/// Same kernels, same order of additions: outputs are identical to running the layers one after
/// the other, which the block does when the plan turns fusion off (`ExecutionPlan.fuse`) or the
/// map is at most two bands' size (it stays in cache anyway, and the layers then run their GEMMs
/// over the whole micro-batch at once). Built from inference layers only (the 1x1s' packed weights).
final class BandedDepthwiseBlock: Layer, AddingLayer, @unchecked Sendable {
    enum Kind: String {
        case invertedResidual = "inverted residual"
        case separable = "separable conv"
        case separablePair = "separable conv pair"
    }

    let kind: Kind
    let expand: RowExpansion?
    let depthwise: DepthwiseConv2D
    let project: Conv2D
    /// The layer the block runs (an inverted residual body, a separable convolution, a
    /// `Sequential` of two): its structure and tensors are the block's.
    let original: Layer
    /// The layers one after another, as run outside bands (a pair's separable convolutions as blocks).
    let unfused: Sequential
    /// Bytes of expanded rows a band aims at (a quarter of a core's 1 MiB L2 here).
    static let bandBytes = 256 * 1024

    private init(_ kind: Kind, expand: RowExpansion?, _ depthwise: DepthwiseConv2D, _ project: Conv2D, original: Layer,
                 unfused: [Layer]) {
        self.kind = kind
        self.expand = expand
        self.depthwise = depthwise
        self.project = project
        self.original = original
        self.unfused = Sequential(unfused)
    }

    /// An inverted residual body, [expand 1x1 →] depthwise → project 1x1; nil when `body` is not
    /// one (or a 1x1 has no packed weights).
    convenience init?(invertedResidual body: Sequential) {
        let layers = body.layers
        guard layers.count == 2 || layers.count == 3,
              let project = layers.last as? Conv2D, project.isPointwise, project.panels != nil,
              let depthwise = layers[layers.count - 2] as? DepthwiseConv2D, depthwise.channels == project.inChannels
        else { return nil }
        var expand: Conv2D?
        if layers.count == 3 {
            guard let e = layers[0] as? Conv2D, e.isPointwise, e.panels != nil, e.outChannels == depthwise.channels else { return nil }
            expand = e
        }
        self.init(.invertedResidual, expand: expand, depthwise, project, original: body, unfused: layers)
    }

    /// A separable convolution; nil when its 1x1 has no packed weights.
    convenience init?(separable: SeparableConv2D) {
        let (depthwise, pointwise) = (separable.depthwise, separable.pointwise)
        guard pointwise.isPointwise, pointwise.panels != nil, depthwise.channels == pointwise.inChannels else { return nil }
        self.init(.separable, expand: nil, depthwise, pointwise, original: separable, unfused: [depthwise, pointwise])
    }

    /// `first` then `second`, the first one's output made a band of rows at a time; nil when the
    /// first does not keep the map's size or a 1x1 has no packed weights.
    convenience init?(first: SeparableConv2D, second: SeparableConv2D) {
        guard first.depthwise.stride == 1, first.depthwise.kernel % 2 == 1,
              first.pointwise.panels != nil, second.pointwise.panels != nil, first.pointwise.isPointwise,
              second.pointwise.isPointwise, first.pointwise.outChannels == second.depthwise.channels
        else { return nil }
        let unfused: [Layer] = [first, second].map { (separable: SeparableConv2D) -> Layer in
            BandedDepthwiseBlock(separable: separable) ?? separable
        }
        self.init(.separablePair, expand: first, second.depthwise, second.pointwise, original: Sequential([first, second]),
                  unfused: unfused)
    }

    /// The block of `kind` that runs `layer`, or nil when it is not one.
    static func fusing(_ kind: Kind, _ layer: Layer) -> BandedDepthwiseBlock? {
        switch kind {
        case .invertedResidual: return (layer as? Sequential).flatMap { BandedDepthwiseBlock(invertedResidual: $0) }
        case .separable: return (layer as? SeparableConv2D).flatMap { BandedDepthwiseBlock(separable: $0) }
        case .separablePair:
            guard let pair = (layer as? Sequential)?.layers, pair.count == 2, let first = pair[0] as? SeparableConv2D,
                  let second = pair[1] as? SeparableConv2D else { return nil }
            return BandedDepthwiseBlock(first: first, second: second)
        }
    }

    var structure: LayerStructure { original.structure }
    var parameters: [[Float]] { original.parameters }
    func replacing(children: [Layer], taking parameters: inout ArraySlice<[Float]>) -> Layer {
        let rebuilt = original.replacing(children: children, taking: &parameters)
        return Self.fusing(kind, rebuilt) ?? rebuilt
    }
    func operationName(_ plan: ExecutionPlan) -> String { kind.rawValue + " (fused)" }

    /// Whether `input` runs a band of rows at a time under `plan` (else layer after layer).
    func runsInBands(_ input: Tensor, _ plan: ExecutionPlan) -> Bool {
        let (h, w) = (input.height, input.width)
        return plan.fuse && h * w * depthwise.channels * MemoryLayout<Float>.size > 2 * Self.bandBytes
            && expand?.keepsSize(height: h, width: w) ?? true
    }

    func forward(_ input: Tensor, _ plan: ExecutionPlan) -> Tensor {
        guard runsInBands(input, plan) else { return unfused.forward(input, plan) }
        return plan.timed(operationName(plan)) { inBands(input, adding: nil, plan) }
    }

    /// The block's output plus `addend` (a residual connection's other branch, the output's
    /// shape, NHWC), added as the projecting GEMM stores.
    func forward(_ input: Tensor, adding addend: Tensor, _ plan: ExecutionPlan) -> Tensor {
        guard runsInBands(input, plan) else { return unfused.forward(input, adding: addend, plan) }
        return plan.timed(operationName(plan) + " + residual add") { inBands(input, adding: addend, plan) }
    }

    /// The block's output (plus `addend`), a band of rows at a time.
    private func inBands(_ nhwc: Tensor, adding addend: Tensor?, _ plan: ExecutionPlan) -> Tensor {
        let input = nhwc.toNHWC(plan)
        let cin = expand?.inChannels ?? depthwise.channels
        precondition(input.channels == cin, "\(kind.rawValue) expects \(cin) channels, got \(input.channels)")
        let (n, h, w) = (input.batch, input.height, input.width)
        let hidden = depthwise.channels
        let (k, s) = (depthwise.kernel, depthwise.stride)
        let (oh, ow, pad) = depthwise.outputSize(height: h, width: w)
        let rowBytes = w * hidden * MemoryLayout<Float>.size
        if let addend {
            precondition(addend.layout == .nhwc && addend.shape == [n, oh, ow, project.outChannels],
                         "cannot add \(addend.shape) to a block's output [\(n), \(oh), \(ow), \(project.outChannels)]")
        }
        // Output rows per band: their input rows ((band - 1) * s + k of them) within bandBytes,
        // the bands of a map made near-equal.
        let most = max(1, min(oh, (max(k, Self.bandBytes / rowBytes) - k) / s + 1))
        let bands = (oh + most - 1) / most
        let map = Map(height: h, width: w, cin: cin, outHeight: oh, outWidth: ow, padding: pad, band: (oh + bands - 1) / bands)
        let imageSize = oh * ow * project.outChannels
        let isa = plan.isa
        return Tensor(shape: [n, oh, ow, project.outChannels], layout: .nhwc) { out in
            input.data.withUnsafeBufferPointer { x in
              (addend?.data ?? []).withUnsafeBufferPointer { r in
                Parallelism.outputRows(images: n, rows: oh, plan) { img, rows in
                    let expandedRows = expand == nil ? 0 : (map.band - 1) * s + k
                    ActivationBuffers.withScratch(max(1, expandedRows * w * hidden)) { expanded in
                        ActivationBuffers.withScratch(map.band * ow * hidden) { filtered in
                            run(map, image: x.baseAddress! + img * h * w * cin, rows: rows, expanded: expanded, filtered: filtered,
                                addend: addend == nil ? nil : r.baseAddress! + img * imageSize,
                                out: out.baseAddress! + img * imageSize, isa)
                        }
                    }
                }
              }
            }
        }
    }

    /// One image's geometry and the output rows per band.
    struct Map {
        let height: Int, width: Int, cin: Int, outHeight: Int, outWidth: Int
        let padding: Padding
        let band: Int
    }

    /// Output rows `rows` of one image, a band at a time, into `out` (the image's output).
    private func run(_ map: Map, image: UnsafePointer<Float>, rows: Range<Int>, expanded: UnsafeMutablePointer<Float>,
                     filtered: UnsafeMutablePointer<Float>, addend: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                     _ isa: ISA) {
        let (h, w, hidden) = (map.height, map.width, depthwise.channels)
        let (k, s, pad) = (depthwise.kernel, depthwise.stride, map.padding)
        let rowSize = w * hidden
        var held = 0..<0  // image rows now in `expanded`, from its start
        for r0 in stride(from: rows.lowerBound, to: rows.upperBound, by: map.band) {
            let r1 = min(r0 + map.band, rows.upperBound)
            // Image rows the band's taps reach (the rest of its window is padding).
            let need = max(0, r0 * s - pad.top)..<min(h, (r1 - 1) * s - pad.top + k)
            var source = image, first = 0, sourceRows = h
            if let expand {
                var start = need.lowerBound
                if held.contains(need.lowerBound) {  // rows the last band expanded move to the front
                    let keep = need.lowerBound..<min(held.upperBound, need.upperBound)
                    memmove(expanded, expanded + (keep.lowerBound - held.lowerBound) * rowSize,
                            keep.count * rowSize * MemoryLayout<Float>.size)
                    start = keep.upperBound
                }
                if need.upperBound > start {
                    expand.expandRows(start..<need.upperBound, of: image, height: h, width: w,
                                      into: expanded + (start - need.lowerBound) * rowSize, isa)
                }
                held = need
                (source, first, sourceRows) = (UnsafePointer(expanded), need.lowerBound, need.count)
            }
            // The depthwise kernel sees rows [first, first + sourceRows) as its whole input: rows it
            // would take outside them are padding (or unused), as in the full map.
            depthwise.run(source, height: sourceRows, width: w, padTop: pad.top + first - r0 * s, padLeft: pad.left,
                          rows: r1 - r0, outWidth: map.outWidth, isa, filtered)
            let at = r0 * map.outWidth * project.outChannels
            project.multiplyOnThisCore(filtered, rows: (r1 - r0) * map.outWidth, adding: addend.map { $0 + at }, isa, out + at)
        }
    }
}

/// A step whose output rows can be made a few at a time, each from the same or nearby input
/// rows, keeping the map's size: a 1x1 convolution (row i from row i) or a stride-1 separable
/// convolution (row i from rows i - k/2 ... i + k/2).
protocol RowExpansion: Layer {
    var inChannels: Int { get }
    var outChannels: Int { get }
    /// Whether the output of an input `height` x `width` has that size.
    func keepsSize(height: Int, width: Int) -> Bool
    /// Output rows `rows` of one image [height][width][inChannels] into `out` ([rows][width][outChannels]),
    /// on this core, with `isa`'s kernels.
    func expandRows(_ rows: Range<Int>, of image: UnsafePointer<Float>, height: Int, width: Int,
                    into out: UnsafeMutablePointer<Float>, _ isa: ISA)
}

extension Conv2D: RowExpansion {
    func keepsSize(height: Int, width: Int) -> Bool { isPointwise }
    func expandRows(_ rows: Range<Int>, of image: UnsafePointer<Float>, height: Int, width: Int,
                    into out: UnsafeMutablePointer<Float>, _ isa: ISA) {
        multiplyOnThisCore(image + rows.lowerBound * width * inChannels, rows: rows.count * width, isa, out)
    }
}

extension SeparableConv2D: RowExpansion {
    var inChannels: Int { depthwise.channels }
    var outChannels: Int { pointwise.outChannels }
    func keepsSize(height: Int, width: Int) -> Bool {
        let (oh, ow, _) = depthwise.outputSize(height: height, width: width)
        return depthwise.stride == 1 && oh == height && ow == width
    }
    func expandRows(_ rows: Range<Int>, of image: UnsafePointer<Float>, height: Int, width: Int,
                    into out: UnsafeMutablePointer<Float>, _ isa: ISA) {
        let pad = depthwise.outputSize(height: height, width: width).2
        ActivationBuffers.withScratch(rows.count * width * inChannels) { filtered in
            // Output rows [lo, hi) are the whole output of the image with its top padding reduced by lo rows.
            depthwise.run(image, height: height, width: width, padTop: pad.top - rows.lowerBound, padLeft: pad.left,
                          rows: rows.count, outWidth: width, isa, filtered)
            pointwise.multiplyOnThisCore(filtered, rows: rows.count * width, isa, out)
        }
    }
}
