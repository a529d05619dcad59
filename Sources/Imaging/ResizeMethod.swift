import DICOM

/// How a model card's `input.resize` brings an image to the network's input size:
/// - `nearest`: PIL's NEAREST (what Keras' image loading applies), straight to the size;
/// - `bilinear` (also spelled `stretch`): an antialiased triangle filter in floating point,
///   straight to the size (the aspect ratio is not kept);
/// - `shorter-S-crop-C`: torchvision's ImageNet evaluation transform on a PIL image —
///   `Resize(S)` (shorter side to S, the other `int(S · long / short)`, by PIL's 8-bit BILINEAR,
///   byte for byte: `PILResample`), then `CenterCrop(C)` at offsets `round((side − C) / 2)`
///   (half to even, as Python's `round`);
/// - `letterbox`: the aspect kept, the longer side fitting (scale min(W/w, H/h), sizes
///   `round(side · scale)`, at least 1, by PIL's BILINEAR), centred on black at
///   ((W − w′) / 2, (H − h′) / 2) rounded down.
public enum ResizeMethod: Equatable, Sendable {
    case nearest
    case bilinear
    case shorterThenCrop(shorter: Int, crop: Int)
    case letterbox

    /// The method a card's string names; nil for anything else.
    public init?(_ name: String) {
        switch name {
        case "nearest": self = .nearest
        case "bilinear", "stretch": self = .bilinear
        case "letterbox": self = .letterbox
        default:
            let parts = name.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 4, parts[0] == "shorter", parts[2] == "crop",
                  parts[1].allSatisfy(\.isASCII), parts[3].allSatisfy(\.isASCII),
                  let s = Int(parts[1]), let c = Int(parts[3]) else { return nil }
            self = .shorterThenCrop(shorter: s, crop: c)
        }
    }

    /// Why this method cannot make a `width` x `height` input, or nil when it can.
    public func problem(width: Int, height: Int) -> String? {
        guard case let .shorterThenCrop(s, c) = self else { return nil }
        if s < 1 || s > 16384 { return "shorter side \(s) is not within 1…16384" }
        if c > s { return "crop \(c) is larger than the shorter side \(s)" }
        if c != width || c != height { return "crop \(c) is not the input size \(width)x\(height)" }
        return nil
    }

    /// `image` (0…255) as a `width` x `height` network input.
    public func apply(_ image: Image, width: Int, height: Int) -> Image {
        switch self {
        case .nearest: return Resize.nearest(image, width: width, height: height)
        case .bilinear: return Resize.bilinear(image, width: width, height: height)
        case let .shorterThenCrop(s, c):
            let (w, h) = (image.width, image.height)
            let (short, long) = w <= h ? (w, h) : (h, w)
            let newLong = Int(Double(s * long) / Double(short))
            let resized = PILResample.bilinear(image, width: w <= h ? s : newLong, height: w <= h ? newLong : s)
            return Self.crop(resized, width: c, height: c,
                             left: Int((Double(resized.width - c) / 2).rounded(.toNearestOrEven)),
                             top: Int((Double(resized.height - c) / 2).rounded(.toNearestOrEven)))
        case .letterbox:
            let (w, h) = (Double(image.width), Double(image.height))
            let scale = min(Double(width) / w, Double(height) / h)
            let nw = min(width, max(1, Int((w * scale).rounded(.toNearestOrEven))))
            let nh = min(height, max(1, Int((h * scale).rounded(.toNearestOrEven))))
            let inner = PILResample.bilinear(image, width: nw, height: nh)
            return Self.crop(inner, width: width, height: height, left: -((width - nw) / 2), top: -((height - nh) / 2))
        }
    }

    /// The `width` x `height` window of `image` at (`left`, `top`); black where it lies outside.
    static func crop(_ image: Image, width: Int, height: Int, left: Int, top: Int) -> Image {
        let c = image.channels
        var out = [Float](repeating: 0, count: width * height * c)
        for y in 0..<height {
            let sy = y + top
            guard sy >= 0 && sy < image.height else { continue }
            for x in 0..<width {
                let sx = x + left
                guard sx >= 0 && sx < image.width else { continue }
                for k in 0..<c { out[(y * width + x) * c + k] = image.pixels[(sy * image.width + sx) * c + k] }
            }
        }
        return Image(width: width, height: height, channels: c, pixels: out, photometric: image.photometric)
    }
}
