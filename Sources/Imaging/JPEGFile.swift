import CTurboJPEG
import DICOM
import Foundation

/// JPEG files through libjpeg-turbo (accurate integer IDCT, as PIL uses): grey stays one
/// channel, everything else decodes to RGB; values 0…255.
public enum JPEGFile {
    public static func read(_ path: String, limits: DecodeLimits = .standard) throws -> Image {
        try FileKind.requireRegularFile(path)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImagingError(file: path, reason: "cannot read the file")
        }
        guard let handle = tjInitDecompress() else { throw ImagingError(file: path, reason: "no JPEG decoder") }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let ok = data.withUnsafeBytes { raw in
            tjDecompressHeader3(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(data.count),
                                &width, &height, &subsampling, &colorspace)
        }
        guard ok == 0 else { throw ImagingError(file: path, reason: "not a readable JPEG: \(message(handle))") }
        let grey = colorspace == Int32(TJCS_GRAY.rawValue)
        let channels = grey ? 1 : 3
        guard width > 0, height > 0, Int(width) * Int(height) <= limits.maxPixelsPerFrame else {
            throw ImagingError(file: path, reason: "a \(width)x\(height) JPEG is outside the decode limit of \(limits.maxPixelsPerFrame) pixels")
        }
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let decoded = data.withUnsafeBytes { raw in
            pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(data.count), out.baseAddress,
                              width, 0, height, grey ? Int32(TJPF_GRAY.rawValue) : Int32(TJPF_RGB.rawValue), 0)
            }
        }
        guard decoded == 0 else { throw ImagingError(file: path, reason: "JPEG decode failed: \(message(handle))") }
        return Image(width: Int(width), height: Int(height), channels: channels, pixels: pixels.map { Float($0) },
                     photometric: grey ? "MONOCHROME2" : "RGB")
    }

    private static func message(_ handle: tjhandle) -> String { String(cString: tjGetErrorStr2(handle)) }
}
