/// The pixel data of one DICOM file, frame by frame: decompression, Bits Stored masking,
/// colour conversion to RGB and the Modality LUT stage; the VOI stage on request.
public final class DicomImage {
    public let file: DicomFile
    public let layout: PixelLayout

    public convenience init(path: String, limits: DecodeLimits = .standard) throws {
        try self.init(file: DicomFile(path: path), limits: limits)
    }

    public init(file: DicomFile, limits: DecodeLimits = .standard) throws {
        self.file = file
        self.layout = try PixelLayout(file: file, limits: limits)
    }

    /// Stored values of a frame, colour-by-pixel, before any transform.
    public func storedFrame(_ index: Int) throws -> StoredFrame {
        try FrameDecoder.decode(file, layout: layout, frame: index)
    }

    /// The frame's modality transform; throws when the file's values would make pixels that are not finite.
    public func modalityTransform(frame: Int) throws -> ModalityTransform {
        try ModalityTransform.read(file, layout: layout, frame: frame)
    }

    /// The file's own VOI transform for the frame, nil when it gives none; throws on a window
    /// that is not a finite number.
    public func voiTransform(frame: Int) throws -> VOITransform? { try VOITransform.read(file, frame: frame) }

    /// A frame with the modality transform applied (monochrome) or converted to RGB (colour).
    public func frame(_ index: Int) throws -> Image {
        if layout.isMonochrome && index >= 0 && index < layout.frames
            && FrameDecoder.decodesThroughDCMTK(file, layout: layout) {
            if FrameDecoder.isEncapsulated(file) {
                try FrameDecoder.checkFragments(file, layout: layout)
            } else {
                try FrameDecoder.checkNativeLength(file, layout: layout)
            }
            let raw = try FrameDecoder.decodeBytes(file, layout: layout, frame: index)
            if let pixels = MonochromeConversion.convert(raw, layout: layout, transform: try modalityTransform(frame: index)) {
                return Image(width: layout.columns, height: layout.rows, channels: 1, pixels: pixels,
                             photometric: raw.photometric)
            }
        }
        var stored = try storedFrame(index)
        guard stored.values.count == stored.rows * stored.columns * stored.samples else {
            throw DicomError(.decode, file: file.path, reason: "decoded \(stored.values.count) samples for a \(stored.rows)x\(stored.columns)x\(stored.samples) frame")
        }
        switch stored.photometric {
        case "MONOCHROME1", "MONOCHROME2":
            guard stored.samples == 1 else {
                throw DicomError(.decode, file: file.path, reason: "the codestream holds \(stored.samples) components for \(stored.photometric)")
            }
            let transform = try modalityTransform(frame: index)
            var pixels = [Float](repeating: 0, count: stored.values.count)
            for i in 0..<pixels.count { pixels[i] = transform.apply(stored.value(i)) }
            return Image(width: stored.columns, height: stored.rows, channels: 1, pixels: pixels,
                         photometric: stored.photometric)
        case "PALETTE COLOR":
            let palette = try ColorConversion.Palette.read(file, signedInput: layout.isSigned)
            stored.values = palette.apply(stored.values)
            stored.samples = 3
        case "YBR_FULL", "YBR_FULL_422":
            ColorConversion.ybrFullToRGB(&stored.values, bits: layout.bitsStored)
        case "RGB", "YBR_RCT", "YBR_ICT":
            break
        default:
            throw DicomError(.unsupported, file: file.path, reason: "photometric interpretation \(stored.photometric)")
        }
        guard stored.samples == 3 else {
            throw DicomError(.unsupported, file: file.path, reason: "\(stored.samples) samples for \(stored.photometric)")
        }
        var pixels = [Float](repeating: 0, count: stored.values.count)
        for i in 0..<pixels.count { pixels[i] = Float(stored.value(i)) }
        return Image(width: stored.columns, height: stored.rows, channels: 3, pixels: pixels, photometric: "RGB")
    }

    /// A frame for display: monochrome through `window` (the file's own when nil, else the
    /// frame's full range) to [0, 1], MONOCHROME1 inverted when `invertMonochrome1`;
    /// colour scaled to [0, 1] by its bit depth.
    public func displayFrame(_ index: Int, window: VOITransform? = nil, invertMonochrome1: Bool = true) throws -> Image {
        var image = try frame(index)
        if image.channels == 1 {
            let stats = image.statistics
            let voi = try window ?? voiTransform(frame: index) ?? .covering(min: stats.min, max: stats.max)
            let invert = invertMonochrome1 && image.photometric == "MONOCHROME1"
            for i in 0..<image.pixels.count {
                let y = voi.apply(image.pixels[i])
                image.pixels[i] = invert ? 1 - y : y
            }
            if invert { image.photometric = "MONOCHROME2" }
        } else {
            let scale = 1 / Float((1 << min(layout.bitsStored, 16)) - 1)
            for i in 0..<image.pixels.count { image.pixels[i] = min(max(image.pixels[i] * scale, 0), 1) }
        }
        return image
    }
}

extension DicomImage {
    /// Checks without decoding that the pixel data is all there: native data as long as
    /// its attributes require, encapsulated data with at least one fragment.
    public func checkStructure() throws {
        if FrameDecoder.isEncapsulated(file) {
            try FrameDecoder.checkFragments(file, layout: layout)
        } else {
            try FrameDecoder.checkNativeLength(file, layout: layout)
        }
        _ = try modalityTransform(frame: 0)
        _ = try voiTransform(frame: 0)
    }
}
