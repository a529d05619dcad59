import DICOM
import Foundation
import Imaging

/// Deterministic image augmentation for training copies: small rotation, scale/crop,
/// brightness and contrast; a left-right flip only when asked (never by default: chest
/// radiographs are not mirror-symmetric). Copy 0 is always the unaugmented image.
public struct Augmentation: Sendable {
    public var copies = 0
    public var maxRotationDegrees: Float = 5
    public var minScale: Float = 0.9
    public var brightness: Float = 0.1
    public var contrast: Float = 0.1
    public var flip = false

    public init() {}

    /// Parses "copies=4,rotate=5,scale=0.9,brightness=0.1,contrast=0.1,flip".
    public init(spec: String) throws {
        for part in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            let value = kv.count == 2 ? Float(kv[1]) : nil
            switch kv[0] {
            case "copies": copies = Int(value ?? 0)
            case "rotate": maxRotationDegrees = value ?? 0
            case "scale": minScale = value ?? 1
            case "brightness": brightness = value ?? 0
            case "contrast": contrast = value ?? 0
            case "flip": flip = true
            default: throw TrainingError(file: "--augment", reason: "unknown augmentation '\(kv[0])' (copies, rotate, scale, brightness, contrast, flip)")
            }
        }
    }

    public var summary: String {
        copies == 0 ? "none" : "\(copies) copies: rotation ±\(maxRotationDegrees)°, scale \(minScale)–1, brightness ±\(brightness), contrast ±\(contrast)\(flip ? ", left-right flip" : "")"
    }

    /// Copy `index` (1…copies) of an RGB 0…255 image, from a generator seeded per image and copy.
    public func apply(_ image: DICOM.Image, seed: UInt64) -> DICOM.Image {
        var rng = SplitMix64(seed: seed)
        let angle = (rng.unit() * 2 - 1) * maxRotationDegrees * .pi / 180
        let scale = minScale + (1 - minScale) * rng.unit()
        let dx = (rng.unit() * 2 - 1) * (1 - scale) / 2, dy = (rng.unit() * 2 - 1) * (1 - scale) / 2
        let gain = 1 + (rng.unit() * 2 - 1) * contrast
        let offset = (rng.unit() * 2 - 1) * brightness * 255
        let mirror = flip && rng.unit() < 0.5
        let (w, h, c) = (image.width, image.height, image.channels)
        let cx = Float(w) / 2, cy = Float(h) / 2
        let cosA = cos(angle), sinA = sin(angle)
        var out = [Float](repeating: 0, count: image.pixels.count)
        for y in 0..<h {
            for x in 0..<w {
                // Output pixel → source: undo flip, scale about the centre plus shift, rotate.
                var u = (Float(x) + 0.5 - cx) * scale + dx * Float(w)
                let v = (Float(y) + 0.5 - cy) * scale + dy * Float(h)
                if mirror { u = -u }
                let sx = cosA * u - sinA * v + cx - 0.5, sy = sinA * u + cosA * v + cy - 0.5
                let x0 = Int(floor(sx)), y0 = Int(floor(sy))
                let tx = sx - Float(x0), ty = sy - Float(y0)
                for k in 0..<c {
                    func at(_ xx: Int, _ yy: Int) -> Float {
                        image.pixels[(min(max(yy, 0), h - 1) * w + min(max(xx, 0), w - 1)) * c + k]
                    }
                    let value = (at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx) * (1 - ty)
                        + (at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx) * ty
                    out[(y * w + x) * c + k] = min(max((value - 127.5) * gain + 127.5 + offset, 0), 255)
                }
            }
        }
        return DICOM.Image(width: w, height: h, channels: c, pixels: out, photometric: image.photometric)
    }
}
