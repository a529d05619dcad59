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

    /// CHW float input for `card`: masked when the card says so, made grey for a single-channel
    /// network (`input.channels` 1), resized with the card's method (`ResizeMethod`) and normalised.
    public static func prepare(_ image: DICOM.Image, for card: ModelCard) -> [Float] {
        let (w, h) = (card.input.width, card.input.height)
        var source = masked(image, for: card)
        if card.input.channels == 1 { source = ModelInput.grey(source) }
        let resized = card.input.resizeMethod.apply(source, width: w, height: h)
        return ModelInput.normalise(resized, scale: card.input.normalization.scale, offset: card.input.normalization.offset)
    }

    /// `image` with what is not breast blacked out when the card's input says `mask: breast`.
    public static func masked(_ image: DICOM.Image, for card: ModelCard) -> DICOM.Image {
        masked(image, mask: card.input.mask)
    }

    /// `image` with what is not breast blacked out when `mask` is "breast"; unchanged when nil.
    public static func masked(_ image: DICOM.Image, mask: String?) -> DICOM.Image {
        mask == "breast" ? BreastRegion.find(in: image).apply(to: image) : image
    }

    /// The network input of prepared images (each from `prepare`, CHW): one NCHW tensor,
    /// [N, 1, H, W] for a single-channel network.
    public static func batch(_ inputs: [[Float]], for card: ModelCard) -> Tensor {
        // The card's input was checked when it was read: 1 or 3 channels.
        Tensor(shape: [inputs.count, card.input.channels, card.input.height, card.input.width], data: inputs.flatMap { $0 })
    }
}
