import DICOM

/// Turns decoded images into network input: 8-bit RGB as a training pipeline reading
/// PNG/JPEG would have seen it, resized, normalised per channel, laid out as CHW.
public enum ModelInput {
    /// 0…255 RGB from a DICOM frame. 8-bit greyscale and RGB data are taken as stored (what a JPEG
    /// or PNG export holds); deeper data goes through the file's window (else its full range).
    /// MONOCHROME1 is inverted so that bone is bright, as in the exports models are trained on.
    public static func rgb8(_ dicom: DicomImage, frame: Int = 0) throws -> Image {
        rgb(try pixels8(dicom, frame: frame))
    }

    /// `rgb8` before grey images are replicated into three channels (a third of the work for
    /// whatever follows; resizing and `normalise` give the same values either way).
    public static func pixels8(_ dicom: DicomImage, frame: Int = 0) throws -> Image {
        let layout = dicom.layout
        var image: Image
        if layout.bitsStored <= 8 {
            image = try dicom.frame(frame)
            if image.photometric == "MONOCHROME1" {
                image.pixels = image.pixels.map { 255 - $0 }
                image.photometric = "MONOCHROME2"
            }
        } else {
            image = try dicom.displayFrame(frame, invertMonochrome1: true)
            image.pixels = image.pixels.map { ($0 * 255).rounded() }
        }
        return image
    }

    /// Replicates a grey image into three channels (PIL's convert("RGB")).
    public static func rgb(_ image: Image) -> Image {
        guard image.channels == 1 else { return image }
        var out = [Float](repeating: 0, count: image.pixels.count * 3)
        for (i, v) in image.pixels.enumerated() { out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
        return Image(width: image.width, height: image.height, channels: 3, pixels: out, photometric: "RGB")
    }

    /// A single-channel image of `image`: grey kept as it is, RGB by PIL's `convert("L")` (ITU-R
    /// 601-2 luma in 16-bit fixed point: (19595 R + 38470 G + 7471 B + 2^15) >> 16).
    public static func grey(_ image: Image) -> Image {
        guard image.channels >= 3 else { return image }
        let c = image.channels
        var out = [Float](repeating: 0, count: image.width * image.height)
        for p in 0..<out.count {
            let (r, g, b) = (Int(image.pixels[p * c]), Int(image.pixels[p * c + 1]), Int(image.pixels[p * c + 2]))
            out[p] = Float((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
        return Image(width: image.width, height: image.height, channels: 1, pixels: out, photometric: "MONOCHROME2")
    }

    /// HWC RGB 0…255 (or grey, read as R = G = B) → CHW floats with x * scale[c] + offset[c]: three
    /// planes, or one when `scale` has one value (a single-channel network; the image grey).
    public static func normalise(_ image: Image, scale: [Float], offset: [Float]) -> [Float] {
        let plane = image.width * image.height
        let stride = image.channels == 1 ? 1 : image.channels
        let planes = scale.count == 1 ? 1 : 3
        var out = [Float](repeating: 0, count: plane * planes)
        for p in 0..<plane {
            for c in 0..<planes { out[c * plane + p] = image.pixels[p * stride + (stride == 1 ? 0 : c)] * scale[c] + offset[c] }
        }
        return out
    }
}
