import CKernels
import Foundation

/// How `Sequential` runs an inverted residual block's body — [expand 1x1 →] depthwise → project
/// 1x1 (MobileNetV2, EfficientNet-Lite): a few output rows at a time, each image's band of
/// expanded rows computed into a small buffer, filtered by the depthwise kernel into another and
/// projected straight into the output. The expanded map, the block's largest (112x112x96 floats
/// is 4.8 MB an image), never leaves the core's cache; rows shared by consecutive bands are kept,
/// not recomputed. Same kernels, same order of additions: outputs are identical to running the
/// three layers one after the other. Used only with the engine's own GEMM (`PackedGEMM`).
final class InvertedBottleneck: @unchecked Sendable {
    let expand: Conv2D?
    let depthwise: DepthwiseConv2D
    let project: Conv2D
    /// Bytes of expanded rows a band aims at (a quarter of a core's 1 MiB L2 here).
    static let bandBytes = 256 * 1024

    /// The plan for `layers`, or nil when they are not such a body (or the packed GEMM is missing).
    init?(_ layers: [Layer]) {
        guard PackedGEMM.available, layers.count == 2 || layers.count == 3,
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

    func forward(_ nhwc: Tensor) -> Tensor {
        let input = nhwc.toNHWC()
        let cin = expand?.inChannels ?? depthwise.channels
        precondition(input.channels == cin, "inverted residual expects \(cin) channels, got \(input.channels)")
        let (n, h, w) = (input.batch, input.height, input.width)
        let hidden = depthwise.channels, cout = project.outChannels
        let (k, s) = (depthwise.kernel, depthwise.stride)
        let (oh, ow, pad) = depthwise.outputSize(height: h, width: w)
        // A map of at most two bands' size stays in cache anyway: the layers one after the other
        // run their GEMMs over the whole micro-batch at once.
        let rowBytes = w * hidden * MemoryLayout<Float>.size
        if h * rowBytes <= 2 * Self.bandBytes {
            let e = expand.map { $0.forward(input) } ?? input
            return project.forward(depthwise.forward(e))
        }
        // Output rows per band: their input rows ((band - 1) * s + k of them) within bandBytes,
        // the bands of a map made near-equal.
        let most = max(1, min(oh, (max(k, Self.bandBytes / rowBytes) - k) / s + 1))
        let bands = (oh + most - 1) / most
        let band = (oh + bands - 1) / bands
        return Tensor(shape: [n, oh, ow, cout], layout: .nhwc) { out in
            input.data.withUnsafeBufferPointer { x in
                Parallelism.outputRows(images: n, rows: oh) { img, rows in
                    let image = x.baseAddress! + img * h * w * cin
                    let expandedRows = expand == nil ? 0 : (band - 1) * s + k
                    let expanded = UnsafeMutablePointer<Float>.allocate(capacity: max(1, expandedRows * w * hidden))
                    let filtered = UnsafeMutablePointer<Float>.allocate(capacity: band * ow * hidden)
                    defer { expanded.deallocate(); filtered.deallocate() }
                    var held = 0..<0  // image rows now in `expanded`, from its start
                    for r0 in stride(from: rows.lowerBound, to: rows.upperBound, by: band) {
                        let r1 = min(r0 + band, rows.upperBound)
                        // Image rows the band's taps reach (the rest of its window is padding).
                        let need = max(0, r0 * s - pad.top)..<min(h, (r1 - 1) * s - pad.top + k)
                        var source = UnsafePointer(image), first = 0
                        if let expand {
                            var start = need.lowerBound
                            if held.contains(need.lowerBound) {
                                let keep = need.lowerBound..<min(held.upperBound, need.upperBound)
                                memmove(expanded, expanded + (keep.lowerBound - held.lowerBound) * w * hidden,
                                        keep.count * w * hidden * MemoryLayout<Float>.size)
                                start = keep.upperBound
                            }
                            if need.upperBound > start {
                                expand.multiplyOnThisCore(image + start * w * cin, rows: (need.upperBound - start) * w,
                                                          expanded + (start - need.lowerBound) * w * hidden)
                            }
                            held = need
                            source = UnsafePointer(expanded)
                            first = need.lowerBound
                        }
                        // The depthwise kernel sees rows [first, ...) as its whole input: rows it
                        // would take outside them are padding (or unused), as in the full map.
                        let sourceRows = expand == nil ? h : need.count
                        let top = pad.top + first - r0 * s
                        depthwise.run(source, height: sourceRows, width: w, padTop: top, padLeft: pad.left, rows: r1 - r0,
                                      outWidth: ow, filtered)
                        let target: UnsafeMutablePointer<Float> = out.baseAddress! + (img * oh + r0) * ow * cout
                        project.multiplyOnThisCore(filtered, rows: (r1 - r0) * ow, target)
                    }
                }
            }
        }
    }
}
