import CDeflate
import Foundation

/// A quick 8-bit PNG writer for images written by the thousand (heatmap overlays): each row
/// "Up"-filtered (difference from the row above) and deflated by libdeflate at level 1. Measured
/// on a 512 px chest X-ray overlay: 2.6 ms and 216 KB, against 5.9 ms and 228 KB for zlib at
/// level 1 on the same rows and 11 ms and 365 KB for libpng's fast simplified writer (no filter,
/// zlib level 3). A standard PNG (IHDR, one IDAT, IEND).
public enum PNGEncoder {
    /// Writes `bytes` (`channels` 1 grey or 3 RGB, row-major, 0…255) to `path`.
    public static func write(_ bytes: UnsafeBufferPointer<UInt8>, width: Int, height: Int, channels: Int, to path: String) throws {
        precondition(channels == 1 || channels == 3, "PNGEncoder writes grey or RGB")
        precondition(bytes.count == width * height * channels, "PNGEncoder: \(bytes.count) bytes for \(width)x\(height)x\(channels)")
        guard width > 0, height > 0 else { throw ImagingError(file: path, reason: "empty image") }
        let stride = width * channels
        // Filtered scanlines: filter type 2 (Up) then each byte minus the one above (modulo 256).
        var filtered = [UInt8](repeating: 0, count: height * (stride + 1))
        filtered.withUnsafeMutableBufferPointer { f in
            for y in 0..<height {
                let row = bytes.baseAddress! + y * stride, out = f.baseAddress! + y * (stride + 1)
                out[0] = 2
                if y == 0 {
                    (out + 1).update(from: row, count: stride)
                } else {
                    let above = row - stride
                    for i in 0..<stride { out[1 + i] = row[i] &- above[i] }
                }
            }
        }
        let idat = try deflate(filtered, path: path)
        var file = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = Data()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [8, channels == 3 ? 2 : 0, 0, 0, 0])  // depth, colour type, compression, filter, interlace
        appendChunk("IHDR", header, to: &file)
        appendChunk("IDAT", idat, to: &file)
        appendChunk("IEND", Data(), to: &file)
        do { try file.write(to: URL(fileURLWithPath: path)) } catch {
            throw ImagingError(file: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// A zlib stream of `data` at level 1.
    static func deflate(_ data: [UInt8], path: String) throws -> Data {
        guard let compressor = libdeflate_alloc_compressor(1) else {
            throw ImagingError(file: path, reason: "cannot allocate a deflate compressor")
        }
        defer { libdeflate_free_compressor(compressor) }
        var out = [UInt8](repeating: 0, count: libdeflate_zlib_compress_bound(compressor, data.count))
        let produced = data.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { libdeflate_zlib_compress(compressor, input.baseAddress, input.count, $0.baseAddress, $0.count) }
        }
        guard produced > 0 else { throw ImagingError(file: path, reason: "deflate failed") }
        return Data(out[..<produced])
    }

    static func appendChunk(_ type: String, _ body: Data, to file: inout Data) {
        let typeBytes = Data(type.utf8)
        file.appendBigEndian(UInt32(body.count))
        file.append(typeBytes)
        file.append(body)
        var crc = typeBytes.withUnsafeBytes { libdeflate_crc32(0, $0.baseAddress, $0.count) }
        crc = body.withUnsafeBytes { libdeflate_crc32(crc, $0.baseAddress, $0.count) }
        file.appendBigEndian(crc)
    }
}

private extension Data {
    mutating func appendBigEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
