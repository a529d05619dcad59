import DICOM
import Engine
import Foundation
import Imaging

/// Loads any supported image file (DICOM, PNG, JPEG) as the network input a model card asks for.
public enum InputLoader {
    public enum Kind { case dicom, png, jpeg }

    /// Decides by content (DICM magic, PNG and JPEG signatures), then by extension.
    public static func kind(of path: String) throws -> Kind {
        guard let fh = FileHandle(forReadingAtPath: path) else {
            throw ImagingError(file: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot open" : "no such file")
        }
        let head = (try? fh.read(upToCount: 132)) ?? Data()
        try? fh.close()
        if head.count >= 8 && head.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return .jpeg }
        return .dicom
    }

    /// 0…255 RGB image of the file (first frame for DICOM).
    public static func rgb8(_ path: String, limits: DecodeLimits = .standard) throws -> DICOM.Image {
        ModelInput.rgb(try pixels8(path, limits: limits))
    }

    /// 0…255 image of the file, grey images kept to one channel (`prepare` reads them as RGB).
    /// Sizes are checked against `limits` before decoding; a DICOM frame's decode holds its
    /// share of `budget` (when given) while it runs.
    public static func pixels8(_ path: String, limits: DecodeLimits = .standard, budget: MemoryBudget? = nil) throws -> DICOM.Image {
        try FileKind.requireRegularFile(path)
        switch try kind(of: path) {
        case .png: return try PNGFile.read(path, limits: limits)
        case .jpeg: return try JPEGFile.read(path, limits: limits)
        case .dicom:
            let image = try DicomImage(path: path, limits: limits)
            guard let budget else { return try ModelInput.pixels8(image) }
            return try budget.reserving(image.layout.decodeBytes) { try ModelInput.pixels8(image) }
        }
    }

    /// CHW float input for `card`: masked when the card says so, resized with the card's method
    /// and normalised.
    public static func prepare(_ image: DICOM.Image, for card: ModelCard) -> [Float] {
        let (w, h) = (card.input.width, card.input.height)
        let source = masked(image, for: card)
        let resized = card.input.resize == "nearest" ? Resize.nearest(source, width: w, height: h)
                                                     : Resize.bilinear(source, width: w, height: h)
        if card.input.channels == 1 { return greyPlane(resized, card: card) }
        return ModelInput.normalise(resized, scale: card.input.normalization.scale, offset: card.input.normalization.offset)
    }

    /// One normalised plane for a single-channel card (an imported grey model): grey images as they
    /// are, colour ones by PIL's convert("L") luma (integer-rounded ITU-R 601).
    static func greyPlane(_ image: DICOM.Image, card: ModelCard) -> [Float] {
        let (scale, offset) = (card.input.normalization.scale.first ?? 1, card.input.normalization.offset.first ?? 0)
        let plane = image.width * image.height
        return (0..<plane).map { p -> Float in
            let v: Float
            if image.channels == 1 {
                v = image.pixels[p]
            } else {
                let px = image.pixels[(p * image.channels)...].prefix(3).map { Int($0.rounded()) }
                v = Float((px[0] * 19595 + px[1] * 38470 + px[2] * 7471 + 0x8000) >> 16)
            }
            return v * scale + offset
        }
    }

    /// `image` with what is not breast blacked out when the card's input says `mask: breast`.
    public static func masked(_ image: DICOM.Image, for card: ModelCard) -> DICOM.Image {
        masked(image, mask: card.input.mask)
    }

    /// `image` with what is not breast blacked out when `mask` is "breast"; unchanged when nil.
    public static func masked(_ image: DICOM.Image, mask: String?) -> DICOM.Image {
        mask == "breast" ? BreastRegion.find(in: image).apply(to: image) : image
    }

    /// The network input of prepared images (each from `prepare`, CHW): one NCHW tensor.
    public static func batch(_ inputs: [[Float]], for card: ModelCard) -> Tensor {
        Tensor(shape: [inputs.count, card.input.channels, card.input.height, card.input.width], data: inputs.flatMap { $0 })
    }
}
