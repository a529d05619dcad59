import DICOM

/// Pillow's `Image.resize(size, BILINEAR)` on 8-bit images, byte for byte (what
/// torchvision's `Resize` does to a PIL image): a separable triangle filter whose support widens
/// by the scale when shrinking (antialiasing), coefficients computed in double, normalised to sum
/// 1, then turned into fixed point with 22 fractional bits (32 − 8 − 2), each pass rounding to
/// 8 bits (add half, shift, clamp to 0…255). The horizontal pass runs first, over the source rows
/// the vertical pass needs, then the vertical pass over its 8-bit output; an axis whose size does
/// not change is not resampled. Written from the algorithm's description (libImaging/Resample.c's
/// structure), not from its code.
public enum PILResample {
    /// Fixed-point fraction bits of the 8-bit passes.
    static let precisionBits = 22

    /// Per output index: the first source index, and the fixed-point weights of the source
    /// indices from there on.
    struct Coefficients {
        var first: [Int] = []
        var weights: [[Int]] = []
    }

    /// The coefficients resampling `input` samples to `output` (both ≥ 1).
    static func coefficients(input: Int, output: Int) -> Coefficients {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale  // the triangle's support is 1
        var c = Coefficients()
        c.first.reserveCapacity(output)
        c.weights.reserveCapacity(output)
        for o in 0..<output {
            let centre = (Double(o) + 0.5) * scale
            let lo = max(Int(centre - support + 0.5), 0)  // truncation, as C's (int) cast
            let hi = min(Int(centre + support + 0.5), input)
            var w = [Double]()
            w.reserveCapacity(max(hi - lo, 0))
            var total = 0.0
            for i in lo..<max(hi, lo) {
                var t = (Double(i) - centre + 0.5) / filterScale
                if t < 0 { t = -t }
                let v = t < 1 ? 1 - t : 0
                w.append(v)
                total += v
            }
            let unit = Double(1 << precisionBits)
            c.first.append(lo)
            c.weights.append(w.map { v in
                let n = total != 0 ? v / total : v
                return n < 0 ? Int(-0.5 + n * unit) : Int(0.5 + n * unit)
            })
        }
        return c
    }

    @inline(__always) static func round8(_ sum: Int) -> Float {
        Float(min(max(sum >> precisionBits, 0), 255))
    }

    /// `image` (values 0…255, integers) resized to `width` x `height` as Pillow's BILINEAR does.
    /// Both sizes must be at least 1 (decoded images always are).
    public static func bilinear(_ image: Image, width: Int, height: Int) -> Image {
        precondition(width >= 1 && height >= 1 && image.width >= 1 && image.height >= 1, "resize to or from an empty image")
        let c = image.channels
        let horizontal = coefficients(input: image.width, output: width)
        let vertical = coefficients(input: image.height, output: height)
        var src = image.pixels.map { min(max($0.rounded(), 0), 255) }
        var (w, h) = (image.width, image.height)
        var vfirst = vertical.first
        if width != image.width {
            // Only the rows the vertical pass reads.
            let top = height != image.height ? vertical.first[0] : 0
            let bottom = height != image.height ? vertical.first[height - 1] + vertical.weights[height - 1].count : image.height
            var out = [Float](repeating: 0, count: width * (bottom - top) * c)
            src.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    for y in top..<bottom {
                        let row = (y * w) * c, dst = ((y - top) * width) * c
                        for x in 0..<width {
                            let (x0, k) = (horizontal.first[x], horizontal.weights[x])
                            for ch in 0..<c {
                                var sum = 1 << (precisionBits - 1)
                                for (i, wi) in k.enumerated() { sum += Int(s[row + (x0 + i) * c + ch]) * wi }
                                o[dst + x * c + ch] = round8(sum)
                            }
                        }
                    }
                }
            }
            if height != image.height { vfirst = vfirst.map { $0 - top } }
            (src, w, h) = (out, width, bottom - top)
        }
        if height != image.height {
            var out = [Float](repeating: 0, count: w * height * c)
            src.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    for y in 0..<height {
                        let (y0, k) = (vfirst[y], vertical.weights[y])
                        for i in 0..<(w * c) {
                            var sum = 1 << (precisionBits - 1)
                            for (j, wj) in k.enumerated() { sum += Int(s[(y0 + j) * w * c + i]) * wj }
                            o[y * w * c + i] = round8(sum)
                        }
                    }
                }
            }
            (src, h) = (out, height)
        }
        return Image(width: w, height: h, channels: c, pixels: src, photometric: image.photometric)
    }
}
