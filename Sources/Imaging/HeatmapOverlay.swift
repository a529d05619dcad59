import DICOM

/// Draws a class activation map over an image: the map is bilinearly upsampled to the image,
/// normalised to its maximum, coloured with a jet ramp and blended where it is strong.
public enum HeatmapOverlay {
    /// `image`: RGB 0…255; `map`: row-major `mapWidth` x `mapHeight` non-negative values.
    /// Returns RGB in [0, 1], at most `maxSide` pixels on its longer side.
    public static func render(_ image: Image, map: [Float], mapWidth: Int, mapHeight: Int, maxSide: Int = 512) -> Image {
        let scale = min(1, Double(maxSide) / Double(max(image.width, image.height)))
        let w = max(1, Int(Double(image.width) * scale)), h = max(1, Int(Double(image.height) * scale))
        let rgb = ModelInput.rgb(image)
        let base = rgb.width == w && rgb.height == h ? rgb : Resize.area(rgb, width: w, height: h)
        let peak = map.max() ?? 0
        // Map-cell centres: sample at ((i + 0.5) / size) * mapSize - 0.5, per column and per row.
        func taps(_ size: Int, _ mapSize: Int) -> [(Int, Int, Float)] {
            (0..<size).map { i in
                let f = min(max((Double(i) + 0.5) / Double(size) * Double(mapSize) - 0.5, 0), Double(mapSize - 1))
                let i0 = Int(f)
                return (i0, min(i0 + 1, mapSize - 1), Float(f - Double(i0)))
            }
        }
        let columns = taps(w, mapWidth), rows = taps(h, mapHeight)
        var out = [Float](repeating: 0, count: w * h * 3)
        base.pixels.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    let (y0, y1, ty) = rows[y]
                    for x in 0..<w {
                        let (x0, x1, tx) = columns[x]
                        let top = map[y0 * mapWidth + x0] * (1 - tx) + map[y0 * mapWidth + x1] * tx
                        let bottom = map[y1 * mapWidth + x0] * (1 - tx) + map[y1 * mapWidth + x1] * tx
                        let v = peak > 0 ? (top * (1 - ty) + bottom * ty) / peak : 0
                        let (r, g, bl) = jet(v)
                        let alpha = 0.55 * v
                        let p = (y * w + x) * 3
                        o[p] = b[p] / 255 * (1 - alpha) + r * alpha
                        o[p + 1] = b[p + 1] / 255 * (1 - alpha) + g * alpha
                        o[p + 2] = b[p + 2] / 255 * (1 - alpha) + bl * alpha
                    }
                }
            }
        }
        return Image(width: w, height: h, channels: 3, pixels: out, photometric: "RGB")
    }

    /// Blue → cyan → yellow → red for v in [0, 1].
    static func jet(_ v: Float) -> (Float, Float, Float) {
        func clamp(_ x: Float) -> Float { min(max(x, 0), 1) }
        return (clamp(1.5 - abs(4 * v - 3)), clamp(1.5 - abs(4 * v - 2)), clamp(1.5 - abs(4 * v - 1)))
    }
}
