import DICOM

/// Resampling to a model's input size. `nearest` reproduces PIL's NEAREST exactly (which Keras'
/// image loading applies): the source index is the truncated position of each output centre,
/// accumulated step by step in Double as Pillow does (the closed form floor((x + 0.5) * in / out)
/// picks a different pixel where rounding lands on an integer). `bilinear` is PIL's antialiased
/// triangle filter (support widened when shrinking).
public enum Resize {
    public static func nearest(_ image: Image, width: Int, height: Int) -> Image {
        let xs = nearestIndices(input: image.width, output: width)
        let ys = nearestIndices(input: image.height, output: height)
        let c = image.channels
        var out = [Float](repeating: 0, count: width * height * c)
        for y in 0..<height {
            let srcRow = ys[y] * image.width
            for x in 0..<width {
                for k in 0..<c { out[(y * width + x) * c + k] = image.pixels[(srcRow + xs[x]) * c + k] }
            }
        }
        return Image(width: width, height: height, channels: c, pixels: out, photometric: image.photometric)
    }

    /// Shrinks by averaging the source pixels each output pixel covers (box filter): fast and
    /// alias-free for thumbnails; enlarging falls back to nearest.
    public static func area(_ image: Image, width: Int, height: Int) -> Image {
        guard width < image.width || height < image.height else { return nearest(image, width: width, height: height) }
        let c = image.channels
        let xs = (0...width).map { $0 * image.width / width }, ys = (0...height).map { $0 * image.height / height }
        var out = [Float](repeating: 0, count: width * height * c)
        // Each output row: add the window's input rows into one accumulator row (contiguous), then
        // fold each output pixel's columns and divide by the window's area.
        var acc = [Float](repeating: 0, count: image.width * c)
        image.pixels.withUnsafeBufferPointer { src in
            acc.withUnsafeMutableBufferPointer { a in
                out.withUnsafeMutableBufferPointer { o in
                    for y in 0..<height {
                        let y0 = ys[y], y1 = max(ys[y + 1], y0 + 1)
                        for i in 0..<a.count { a[i] = 0 }
                        for yy in y0..<y1 {
                            let row = src.baseAddress! + yy * image.width * c
                            for i in 0..<a.count { a[i] += row[i] }
                        }
                        for x in 0..<width {
                            let x0 = xs[x], x1 = max(xs[x + 1], x0 + 1)
                            let area = Float((y1 - y0) * (x1 - x0))
                            for k in 0..<c {
                                var s: Float = 0
                                for xx in x0..<x1 { s += a[xx * c + k] }
                                o[(y * width + x) * c + k] = s / area
                            }
                        }
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: c, pixels: out, photometric: image.photometric)
    }

    /// Pillow's ImagingScaleAffine index rule: pos = scale/2, then pos += scale per output pixel.
    public static func nearestIndices(input: Int, output: Int) -> [Int] {
        let scale = Double(input) / Double(output)
        var pos = scale * 0.5
        var out = [Int](repeating: 0, count: output)
        for i in 0..<output {
            out[i] = min(Int(pos), input - 1)
            pos += scale
        }
        return out
    }

    public static func bilinear(_ image: Image, width: Int, height: Int) -> Image {
        let horizontal = weights(input: image.width, output: width)
        let vertical = weights(input: image.height, output: height)
        let c = image.channels
        var temp = [Float](repeating: 0, count: width * image.height * c)
        for y in 0..<image.height {
            for x in 0..<width {
                let (start, w) = horizontal[x]
                for k in 0..<c {
                    var s: Double = 0
                    for (i, wi) in w.enumerated() { s += wi * Double(image.pixels[(y * image.width + start + i) * c + k]) }
                    temp[(y * width + x) * c + k] = Float(s)
                }
            }
        }
        var out = [Float](repeating: 0, count: width * height * c)
        for y in 0..<height {
            let (start, w) = vertical[y]
            for x in 0..<width {
                for k in 0..<c {
                    var s: Double = 0
                    for (i, wi) in w.enumerated() { s += wi * Double(temp[((start + i) * width + x) * c + k]) }
                    out[(y * width + x) * c + k] = Float(s)
                }
            }
        }
        return Image(width: width, height: height, channels: c, pixels: out, photometric: image.photometric)
    }

    /// Per output index: first source index and normalised triangle-filter weights.
    static func weights(input: Int, output: Int) -> [(Int, [Double])] {
        let scale = Double(input) / Double(output)
        let support = max(scale, 1)
        return (0..<output).map { o in
            let centre = (Double(o) + 0.5) * scale
            let lo = max(Int((centre - support).rounded(.toNearestOrAwayFromZero)), 0)
            let hi = min(Int((centre + support).rounded(.toNearestOrAwayFromZero)), input)
            var w = (lo..<max(hi, lo + 1)).map { i in max(0, 1 - abs((Double(i) - centre + 0.5) / support)) }
            let total = w.reduce(0, +)
            if total > 0 { w = w.map { $0 / total } }
            return (lo, w)
        }
    }
}
