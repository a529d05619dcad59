import CKernels
import Foundation

/// How `Sequential` runs an inverted residual block's body — [expand 1x1 →] depthwise → project
/// 1x1 (MobileNetV2, EfficientNet-Lite): a few output rows at a time, each image's band of
/// expanded rows computed into a small buffer, filtered by the depthwise kernel into another and
/// projected straight into the output. The expanded map, the block's largest (112x112x96 floats
/// is 4.8 MB an image), never leaves the core's cache; rows shared by consecutive bands are kept,
/// not recomputed. Without the expanding step it runs Xception's separable convolutions
/// (depthwise → pointwise), keeping the depthwise output in cache; with a separable convolution
/// as the expanding step it runs two of them in a row (Xception's entry flow), the first one's
/// output computed a band at a time like an expansion. Same kernels, same order of additions:
/// outputs are identical to running the layers one after the other. Used on maps larger than two
/// bands (every instruction set), not with training copies of the layers (which run OpenBLAS).
final class InvertedBottleneck: @unchecked Sendable {
    let expand: RowExpansion?
    let depthwise: DepthwiseConv2D
    let project: Conv2D
    /// Bytes of expanded rows a band aims at (a quarter of a core's 1 MiB L2 here).
    static let bandBytes = 256 * 1024

    /// The plan for `layers`, or nil when they are not such a body (or a 1x1 has no packed weights).
    init?(_ layers: [Layer]) {
        guard layers.count == 2 || layers.count == 3,
              let project = layers.last as? Conv2D, project.isPointwise, project.panels != nil,
              let depthwise = layers[layers.count - 2] as? DepthwiseConv2D, depthwise.channels == project.inChannels
        else { return nil }
        var expand: Conv2D?
        if layers.count == 3 {
            guard let e = layers[0] as? Conv2D, e.isPointwise, e.panels != nil, e.outChannels == depthwise.channels else { return nil }
            expand = e
        }
        self.expand = expand
        self.depthwise = depthwise
        self.project = project
    }

    /// `first` then `second` (separable convolutions), the first one's output made a band of rows
    /// at a time; nil when the first does not keep the map's size or a 1x1 has no packed weights.
    init?(chaining first: SeparableConv2D, _ second: SeparableConv2D) {
        guard first.depthwise.stride == 1, first.depthwise.kernel % 2 == 1,
              first.pointwise.panels != nil, second.pointwise.panels != nil, first.pointwise.isPointwise,
              second.pointwise.isPointwise, first.pointwise.outChannels == second.depthwise.channels
        else { return nil }
        expand = first
        depthwise = second.depthwise
        project = second.pointwise
    }

    /// Whether `input` is run a band of rows at a time (else layer after layer).
    func runsInBands(_ input: Tensor) -> Bool {
        let (h, w) = (input.height, input.width)
        return h * w * depthwise.channels * MemoryLayout<Float>.size > 2 * Self.bandBytes
            && expand?.keepsSize(height: h, width: w) ?? true
    }

    /// The body's output, plus `addend` (a residual connection's other branch, the output's
    /// shape, NHWC) when given, added as the projecting GEMM stores.
    func forward(_ nhwc: Tensor, adding addend: Tensor? = nil) -> Tensor {
        let input = nhwc.toNHWC()
        let cin = expand?.inChannels ?? depthwise.channels
        precondition(input.channels == cin, "inverted residual expects \(cin) channels, got \(input.channels)")
        let (n, h, w) = (input.batch, input.height, input.width)
        let hidden = depthwise.channels
        let (k, s) = (depthwise.kernel, depthwise.stride)
        let (oh, ow, pad) = depthwise.outputSize(height: h, width: w)
        // A map of at most two bands' size stays in cache anyway: the layers one after the other
        // run their GEMMs over the whole micro-batch at once.
        let rowBytes = w * hidden * MemoryLayout<Float>.size
        if !runsInBands(input) {
            var expanded = expand.map { $0.forward(input) } ?? input
            var filtered = depthwise.forward(expanded)
            if expand != nil { ActivationBuffers.recycle(&expanded) }
            defer { ActivationBuffers.recycle(&filtered) }
            if let addend { return project.forward(filtered, adding: addend) }
            return project.forward(filtered)
        }
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
        return Tensor(shape: [n, oh, ow, project.outChannels], layout: .nhwc) { out in
            input.data.withUnsafeBufferPointer { x in
              (addend?.data ?? []).withUnsafeBufferPointer { r in
                Parallelism.outputRows(images: n, rows: oh) { img, rows in
                    let expandedRows = expand == nil ? 0 : (map.band - 1) * s + k
                    ActivationBuffers.withScratch(max(1, expandedRows * w * hidden)) { expanded in
                        ActivationBuffers.withScratch(map.band * ow * hidden) { filtered in
                            run(map, image: x.baseAddress! + img * h * w * cin, rows: rows, expanded: expanded, filtered: filtered,
                                addend: addend == nil ? nil : r.baseAddress! + img * imageSize,
                                out: out.baseAddress! + img * imageSize)
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
                     filtered: UnsafeMutablePointer<Float>, addend: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
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
                                      into: expanded + (start - need.lowerBound) * rowSize)
                }
                held = need
                (source, first, sourceRows) = (UnsafePointer(expanded), need.lowerBound, need.count)
            }
            // The depthwise kernel sees rows [first, first + sourceRows) as its whole input: rows it
            // would take outside them are padding (or unused), as in the full map.
            depthwise.run(source, height: sourceRows, width: w, padTop: pad.top + first - r0 * s, padLeft: pad.left,
                          rows: r1 - r0, outWidth: map.outWidth, filtered)
            let at = r0 * map.outWidth * project.outChannels
            project.multiplyOnThisCore(filtered, rows: (r1 - r0) * map.outWidth, adding: addend.map { $0 + at }, out + at)
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
    /// Output rows `rows` of one image [height][width][inChannels] into `out` ([rows][width][outChannels]), on this core.
    func expandRows(_ rows: Range<Int>, of image: UnsafePointer<Float>, height: Int, width: Int,
                    into out: UnsafeMutablePointer<Float>)
}

extension Conv2D: RowExpansion {
    func keepsSize(height: Int, width: Int) -> Bool { isPointwise }
    func expandRows(_ rows: Range<Int>, of image: UnsafePointer<Float>, height: Int, width: Int,
                    into out: UnsafeMutablePointer<Float>) {
        multiplyOnThisCore(image + rows.lowerBound * width * inChannels, rows: rows.count * width, out)
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
                    into out: UnsafeMutablePointer<Float>) {
        let pad = depthwise.outputSize(height: height, width: width).2
        ActivationBuffers.withScratch(rows.count * width * inChannels) { filtered in
            // Output rows [lo, hi) are the whole output of the image with its top padding reduced by lo rows.
            depthwise.run(image, height: height, width: width, padTop: pad.top - rows.lowerBound, padLeft: pad.left,
                          rows: rows.count, outWidth: width, filtered)
            pointwise.multiplyOnThisCore(filtered, rows: rows.count * width, out)
        }
    }
}
