import Common
import CPNG
import DICOM
import Foundation

/// A failure to read or write an image file, naming it and the reason.
public typealias ImagingError = FileFailure<ImagingDomain>
public enum ImagingDomain {}

/// PNG files through libpng's simplified API (which reports errors instead of long-jumping).
/// Writes 8-bit or 16-bit grey or RGB; reads any PNG as 8-bit grey or RGB.
public enum PNGFile {
    // PNG_FORMAT_FLAG_COLOR and PNG_FORMAT_FLAG_LINEAR (macros Swift does not import).
    static let formatColor: png_uint_32 = 0x02
    static let formatLinear: png_uint_32 = 0x04

    /// Writes an image whose samples are in [0, 1] (e.g. `DicomImage.displayFrame`), scaled
    /// to 8 or 16 bits. 16-bit files are written linear (gAMA 1.0), as libpng's API does.
    public static func write(_ image: Image, bitDepth: Int, to path: String, fast: Bool = false) throws {
        guard image.channels == 1 || image.channels == 3 else {
            throw ImagingError(file: path, reason: "\(image.channels) channels cannot be written as PNG")
        }
        guard bitDepth == 8 || bitDepth == 16 else { throw ImagingError(file: path, reason: "bit depth \(bitDepth)") }
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        png.width = png_uint_32(image.width)
        png.height = png_uint_32(image.height)
        png.format = image.channels == 3 ? formatColor : 0
        if fast { png.flags |= 0x02 }  // PNG_IMAGE_FLAG_FAST: quicker compression, larger file
        let ok: Int32
        if bitDepth == 8 {
            let bytes = image.pixels.map { (v: Float) -> UInt8 in UInt8(saturating: Swift.min(Swift.max(v, 0), 1) * 255 + 0.5) }
            ok = bytes.withUnsafeBytes { png_image_write_to_file(&png, path, 0, $0.baseAddress, 0, nil) }
        } else {
            png.format |= formatLinear
            let words = image.pixels.map { (v: Float) -> UInt16 in UInt16(saturating: Swift.min(Swift.max(v, 0), 1) * 65535 + 0.5) }
            ok = words.withUnsafeBytes { png_image_write_to_file(&png, path, 0, $0.baseAddress, 0, nil) }
        }
        if ok == 0 { throw ImagingError(file: path, reason: "PNG write failed: \(message(png))") }
    }

    /// Reads a PNG as 8-bit samples (grey or RGB, alpha dropped) into an `Image` of values 0…255.
    public static func read(_ path: String, limits: DecodeLimits = .standard) throws -> Image {
        try FileKind.requireRegularFile(path)
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&png, path) != 0 else {
            throw ImagingError(file: path, reason: "not a readable PNG: \(message(png))")
        }
        let color = (png.format & formatColor) != 0
        png.format = color ? formatColor : 0
        let channels = color ? 3 : 1
        guard Int(png.width) * Int(png.height) <= limits.maxPixelsPerFrame else {
            png_image_free(&png)
            throw ImagingError(file: path, reason: "a \(png.width)x\(png.height) PNG is above the decode limit of \(limits.maxPixelsPerFrame) pixels")
        }
        var bytes = [UInt8](repeating: 0, count: Int(png.width) * Int(png.height) * channels)
        let ok = bytes.withUnsafeMutableBytes { png_image_finish_read(&png, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { throw ImagingError(file: path, reason: "PNG decode failed: \(message(png))") }
        return Image(width: Int(png.width), height: Int(png.height), channels: channels,
                     pixels: bytes.map { Float($0) }, photometric: color ? "RGB" : "MONOCHROME2")
    }

    private static func message(_ png: png_image) -> String {
        var m = png.message
        return withUnsafeBytes(of: &m) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
