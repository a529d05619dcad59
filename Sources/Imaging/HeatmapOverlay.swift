import DICOM

/// Draws a class activation map over an image: the map is bilinearly upsampled to the image,
/// normalised to its maximum and multiplied by `intensity` (scoring passes the class's
/// probability, so a weak case is drawn faint and only a near-certain one in full colour),
/// coloured with a jet ramp and blended where it is strong.
public enum HeatmapOverlay {
    /// `pixels`: `width` x `height` 8-bit grey (`channels` 1) or RGB (3), row-major; `map`:
    /// row-major `mapWidth` x `mapHeight` non-negative values; `intensity` in [0, 1] (values
    /// outside, and NaN, are clamped). Returns 8-bit RGB of the same size.
    public static func render(_ pixels: UnsafeBufferPointer<UInt8>, width w: Int, height h: Int, channels: Int,
                              map: [Float], mapWidth: Int, mapHeight: Int, intensity: Float = 1) -> [UInt8] {
        precondition(channels == 1 || channels == 3, "overlay on grey or RGB")
        precondition(pixels.count == w * h * channels && map.count == mapWidth * mapHeight, "overlay sizes")
        let peak = map.filter(\.isFinite).max() ?? 0
        let strength: Float = intensity >= 1 ? 1 : (intensity > 0 ? intensity : 0)
        let scale: Float = peak > 0 ? strength / peak : 0
        // Map-cell centres: sample at ((i + 0.5) / size) * mapSize - 0.5, per column and per row.
        func taps(_ size: Int, _ mapSize: Int) -> [(Int, Int, Float)] {
            (0..<size).map { i in
                let f = min(max((Double(i) + 0.5) / Double(size) * Double(mapSize) - 0.5, 0), Double(mapSize - 1))
                let i0 = Int(f)
                return (i0, min(i0 + 1, mapSize - 1), Float(f - Double(i0)))
            }
        }
        let columns = taps(w, mapWidth), rows = taps(h, mapHeight)
        return [UInt8](unsafeUninitializedCapacity: w * h * 3) { o, count in
            map.withUnsafeBufferPointer { m in
                columns.withUnsafeBufferPointer { columns in
                    for y in 0..<h {
                        let (y0, y1, ty) = rows[y]
                        let top = m.baseAddress! + y0 * mapWidth, bottom = m.baseAddress! + y1 * mapWidth
                        let source = pixels.baseAddress! + y * w * channels, target = o.baseAddress! + y * w * 3
                        for x in 0..<w {
                            let (x0, x1, tx) = columns[x]
                            let upper = top[x0] * (1 - tx) + top[x1] * tx
                            let lower = bottom[x0] * (1 - tx) + bottom[x1] * tx
                            let raw = (upper * (1 - ty) + lower * ty) * scale
                            let v = raw.isNaN ? 0 : min(max(raw, 0), 1)
                            let (r, g, b) = jet(v)
                            let alpha = 0.55 * v
                            let p = source + x * channels, q = target + x * 3
                            q[0] = blend(p[0], r, alpha)
                            q[1] = blend(p[channels == 3 ? 1 : 0], g, alpha)
                            q[2] = blend(p[channels == 3 ? 2 : 0], b, alpha)
                        }
                    }
                }
            }
            count = w * h * 3
        }
    }

    /// The image value (0…255) and the colour (0…1) mixed, rounded to 8 bits.
    @inline(__always) static func blend(_ value: UInt8, _ colour: Float, _ alpha: Float) -> UInt8 {
        UInt8(saturating: Float(value) * (1 - alpha) + colour * 255 * alpha + 0.5)
    }

    /// Blue → cyan → yellow → red for v in [0, 1].
    static func jet(_ v: Float) -> (Float, Float, Float) {
        func clamp(_ x: Float) -> Float { min(max(x, 0), 1) }
        return (clamp(1.5 - abs(4 * v - 3)), clamp(1.5 - abs(4 * v - 2)), clamp(1.5 - abs(4 * v - 1)))
    }
}
