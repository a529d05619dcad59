import DICOM

/// Draws a class activation map over an image: the map is bilinearly upsampled to the image,
/// normalised to its maximum, coloured with a jet ramp and blended where it is strong.
public enum HeatmapOverlay {
    /// `image`: RGB 0…255; `map`: row-major `mapWidth` x `mapHeight` non-negative values.
    /// Returns RGB in [0, 1], at most `maxSide` pixels on its longer side.
    public static func render(_ image: Image, map: [Float], mapWidth: Int, mapHeight: Int, maxSide: Int = 512) -> Image {
        let scale = min(1, Double(maxSide) / Double(max(image.width, image.height)))
        let w = max(1, Int(Double(image.width) * scale)), h = max(1, Int(Double(image.height) * scale))
        let base = Resize.area(ModelInput.rgb(image), width: w, height: h)
        let peak = map.max() ?? 0
        var out = [Float](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            // Map-cell centres: sample at ((y + 0.5) / h) * mapHeight - 0.5.
            let fy = min(max((Double(y) + 0.5) / Double(h) * Double(mapHeight) - 0.5, 0), Double(mapHeight - 1))
            let y0 = Int(fy), y1 = min(y0 + 1, mapHeight - 1), ty = Float(fy - Double(y0))
            for x in 0..<w {
                let fx = min(max((Double(x) + 0.5) / Double(w) * Double(mapWidth) - 0.5, 0), Double(mapWidth - 1))
                let x0 = Int(fx), x1 = min(x0 + 1, mapWidth - 1), tx = Float(fx - Double(x0))
                let top = map[y0 * mapWidth + x0] * (1 - tx) + map[y0 * mapWidth + x1] * tx
                let bottom = map[y1 * mapWidth + x0] * (1 - tx) + map[y1 * mapWidth + x1] * tx
                let v = peak > 0 ? (top * (1 - ty) + bottom * ty) / peak : 0
                let (r, g, b) = jet(v)
                let alpha = 0.55 * v
                let p = (y * w + x) * 3
                out[p] = base.pixels[p] / 255 * (1 - alpha) + r * alpha
                out[p + 1] = base.pixels[p + 1] / 255 * (1 - alpha) + g * alpha
                out[p + 2] = base.pixels[p + 2] / 255 * (1 - alpha) + b * alpha
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
