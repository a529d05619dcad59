/// A decoded frame as Float32 samples, channels interleaved (row-major, HWC).
/// Monochrome frames hold modality values (after the Modality LUT stage);
/// colour frames hold RGB sample values.
public struct Image: Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [Float]
    /// Photometric interpretation of `pixels`: MONOCHROME1, MONOCHROME2 or RGB.
    public var photometric: String

    public init(width: Int, height: Int, channels: Int, pixels: [Float], photometric: String) {
        precondition(pixels.count == width * height * channels, "pixel count does not match the size")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
        self.photometric = photometric
    }

    /// Minimum, maximum and mean of all samples.
    public var statistics: (min: Float, max: Float, mean: Double) {
        var lo = Float.infinity, hi = -Float.infinity, sum = 0.0
        for v in pixels {
            lo = Swift.min(lo, v); hi = Swift.max(hi, v); sum += Double(v)
        }
        return (lo, hi, pixels.isEmpty ? 0 : sum / Double(pixels.count))
    }
}
