import CDCMTK

/// The stored values of one frame after decompression: samples interleaved
/// (colour-by-pixel), masked to Bits Stored and sign-extended when signed. Colour
/// data is still in the photometric interpretation it decoded to (RGB, YBR_FULL, …).
public struct StoredFrame: Sendable {
    public var rows: Int
    public var columns: Int
    public var samples: Int
    public var values: [Int32]
    /// Photometric interpretation of `values` (a JPEG decoder may already have made RGB).
    public var photometric: String
    /// True for 32-bit unsigned data, whose values are stored as bit patterns.
    public var isUnsigned32: Bool

    /// Value `i` as an exact 64-bit integer (handles unsigned 32-bit data).
    @inline(__always) public func value(_ i: Int) -> Int64 {
        isUnsigned32 ? Int64(UInt32(bitPattern: values[i])) : Int64(values[i])
    }
}

/// Decodes frames to stored values: DCMTK for native and JPEG, own RLE decoder, libjpeg-turbo
/// for greyscale 8-bit JPEG Baseline, CharLS for JPEG-LS, OpenJPEG for JPEG 2000 and HTJ2K.
enum FrameDecoder {
    static func decode(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> StoredFrame {
        guard frame >= 0, frame < layout.frames else {
            throw DicomError(.decode, file: file.path, reason: "frame \(frame) out of range 0..<\(layout.frames)")
        }
        if TransferSyntax.isJPEG2000(layout.transferSyntaxUID) {
            return try JPEG2000Decoder.decodeFrame(file, layout: layout, frame: frame)
        }
        if layout.bitsAllocated == 1 { return try decodeBitPacked(file, layout: layout, frame: frame) }
        if dx_pixel_encapsulated(file.handle) == 0 {
            try checkNativeLength(file, layout: layout)
        } else {
            try checkFragments(file, layout: layout)
        }
        if layout.photometric == "YBR_FULL_422" && dx_pixel_encapsulated(file.handle) == 0 {
            return try decodeNative422(file, layout: layout, frame: frame)
        }

        let raw = try decodeBytes(file, layout: layout, frame: frame)
        let buffer = raw.bytes
        let planar = raw.planar
        let photometric = raw.photometric
        let needed = layout.pixelsPerFrame * layout.samplesPerPixel * (layout.bitsAllocated / 8)
        guard buffer.count >= needed else {
            throw DicomError(.decode, file: file.path, reason: "decoder returned \(buffer.count) bytes, \(needed) expected")
        }
        var values = unpack(buffer, layout: layout)
        if layout.samplesPerPixel > 1 && planar == 1 {
            values = interleave(values, samples: layout.samplesPerPixel, pixels: layout.pixelsPerFrame)
        }
        return StoredFrame(rows: layout.rows, columns: layout.columns, samples: layout.samplesPerPixel,
                           values: values, photometric: photometric,
                           isUnsigned32: layout.bitsAllocated == 32 && !layout.isSigned)
    }

    /// One frame's decompressed bytes (little-endian samples) from DCMTK, with the photometric
    /// interpretation and planar configuration they came out in.
    struct RawFrame {
        var bytes: [UInt8]
        var photometric: String
        var planar: Int
    }

    /// Native, RLE, JPEG and JPEG-LS data through DCMTK (not JPEG 2000, 1-bit or native 4:2:2).
    static func decodeBytes(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> RawFrame {
        if layout.transferSyntaxUID == RLEDecoder.transferSyntax && layout.bitsAllocated % 8 == 0 {
            return try RLEDecoder.decodeFrame(file, layout: layout, frame: frame)
        }
        if BaselineJPEGDecoder.applies(layout), let raw = try? BaselineJPEGDecoder.decodeFrame(file, layout: layout, frame: frame) {
            return raw
        }
        if JPEGLSDecoder.transferSyntaxes.contains(layout.transferSyntaxUID) && layout.bitsAllocated <= 16 {
            return try JPEGLSDecoder.decodeFrame(file, layout: layout, frame: frame)
        }
        var err = [CChar](repeating: 0, count: 512)
        var size: UInt32 = 0
        guard dx_frame_size(file.handle, &size, &err, err.count) != 0 else {
            throw DicomError(.decode, file: file.path, reason: String(cString: err))
        }
        // DCMTK computes the size in 32 bits: it must be the whole frame the attributes describe.
        guard Int(size) >= layout.frameBytes else {
            throw DicomError(.decode, file: file.path, reason: "DCMTK's frame size \(size) is smaller than the \(layout.frameBytes) bytes the attributes describe")
        }
        let capacity = Int(size) + 1 + Int(size & 1)
        var model = [CChar](repeating: 0, count: 64)
        var planar: Int32 = 0
        var ok: Int32 = 0
        var buffer = [UInt8](unsafeUninitializedCapacity: capacity) { raw, count in
            ok = dx_decode_frame(file.handle, UInt32(frame), raw.baseAddress, UInt32(capacity - 1) & ~1,
                                 &model, model.count, &planar, &err, err.count)
            count = capacity
        }
        guard ok != 0 else { throw DicomError(.decode, file: file.path, reason: String(cString: err)) }
        let photometric = String(cString: model).isEmpty ? layout.photometric : String(cString: model)
        if layout.bitsAllocated == 32 && layout.transferSyntaxUID == "1.2.840.10008.1.2.2" {
            // DCMTK swaps big-endian OW data as 16-bit words; put the two halves of each 32-bit value back.
            buffer.withUnsafeMutableBytes { raw in
                let words = raw.bindMemory(to: UInt32.self)
                for i in 0..<(Int(size) / 4) { words[i] = (words[i] << 16) | (words[i] >> 16) }
            }
        }
        return RawFrame(bytes: buffer, photometric: photometric, planar: Int(planar))
    }

    /// True when `decodeBytes` handles the frame (no OpenJPEG, bit unpacking or 4:2:2 expansion).
    static func decodesThroughDCMTK(_ file: DicomFile, layout: PixelLayout) -> Bool {
        !TransferSyntax.isJPEG2000(layout.transferSyntaxUID) && layout.bitsAllocated != 1
            && !(layout.photometric == "YBR_FULL_422" && !isEncapsulated(file))
    }

    /// Runs `body` on one frame's compressed bitstream (its fragments concatenated by DCMTK).
    static func withEncapsulatedFrame<T>(_ file: DicomFile, layout: PixelLayout, frame: Int,
                                         _ body: (UnsafeBufferPointer<UInt8>) throws -> T) throws -> T {
        var raw: UnsafeMutablePointer<UInt8>?
        var length = 0
        var err = [CChar](repeating: 0, count: 512)
        guard dx_encapsulated_frame(file.handle, UInt32(frame), UInt32(layout.frames), &raw, &length, &err, err.count) != 0,
              let raw else {
            throw DicomError(.decode, file: file.path, reason: String(cString: err))
        }
        defer { dx_free(raw) }
        return try body(UnsafeBufferPointer(start: raw, count: length))
    }

    static func isEncapsulated(_ file: DicomFile) -> Bool { dx_pixel_encapsulated(file.handle) != 0 }
    static func fragmentCount(_ file: DicomFile) -> Int { Int(dx_pixel_fragment_count(file.handle)) }

    /// Rejects native pixel data shorter than its attributes say (a truncated file).
    /// Frame size times Number of Frames is checked arithmetic: the attributes are untrusted.
    static func checkNativeLength(_ file: DicomFile, layout: PixelLayout) throws {
        let stored = dx_pixel_native_length(file.handle)
        guard stored >= 0 else { return }
        var perFrame = layout.frameBytes
        if layout.photometric == "YBR_FULL_422" && layout.bitsAllocated != 1 { perFrame = perFrame * 2 / 3 }
        let (expected, overflow) = perFrame.multipliedReportingOverflow(by: layout.frames)
        if overflow || stored < expected {
            throw DicomError(.decode, file: file.path,
                             reason: "Pixel Data holds \(stored) bytes, \(layout.frames) frame(s) of \(perFrame) expected (truncated, or Number of Frames wrong)")
        }
    }

    /// Encapsulated data holds at least one fragment per frame (PS3.5 A.4), so a Number of
    /// Frames above the fragment count is wrong, and is refused before any per-frame table is built.
    static func checkFragments(_ file: DicomFile, layout: PixelLayout) throws {
        let fragments = fragmentCount(file)
        if fragments < 1 {
            throw DicomError(.decode, file: file.path, reason: "encapsulated Pixel Data holds no fragments")
        }
        if layout.frames > fragments {
            throw DicomError(.decode, file: file.path,
                             reason: "Number of Frames is \(layout.frames) but the encapsulated Pixel Data has only \(fragments) fragment(s)")
        }
    }

    /// Masks each sample to Bits Stored (the bits at and below High Bit) and sign-extends.
    static func unpack(_ buffer: [UInt8], layout: PixelLayout) -> [Int32] {
        let count = layout.pixelsPerFrame * layout.samplesPerPixel
        let bits = layout.bitsStored
        let shift = max(layout.highBit + 1 - bits, 0)
        var out = [Int32](repeating: 0, count: count)
        buffer.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { dst in
                switch layout.bitsAllocated {
                case 8:
                    let src = raw.bindMemory(to: UInt8.self)
                    for i in 0..<count { dst[i] = extend(UInt32(src[i]) >> shift, bits, layout.isSigned) }
                case 16:
                    let src = raw.bindMemory(to: UInt16.self)
                    for i in 0..<count {
                        dst[i] = extend(UInt32(UInt16(littleEndian: src[i])) >> shift, bits, layout.isSigned)
                    }
                default:
                    let src = raw.bindMemory(to: UInt32.self)
                    for i in 0..<count {
                        dst[i] = extend(UInt32(littleEndian: src[i]) >> shift, bits, layout.isSigned)
                    }
                }
            }
        }
        return out
    }

    @inline(__always) static func extend(_ v: UInt32, _ bits: Int, _ signed: Bool) -> Int32 {
        if bits >= 32 { return Int32(bitPattern: v) }
        let masked = v & ((1 << UInt32(bits)) - 1)
        if signed && masked & (1 << UInt32(bits - 1)) != 0 {
            return Int32(bitPattern: masked | ~((1 << UInt32(bits)) - 1))
        }
        return Int32(bitPattern: masked)
    }

    static func interleave(_ planes: [Int32], samples: Int, pixels: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: planes.count)
        for s in 0..<samples {
            for p in 0..<pixels { out[p * samples + s] = planes[s * pixels + p] }
        }
        return out
    }

    /// Bits Allocated 1: frames are packed back to back, least significant bit first.
    static func decodeBitPacked(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> StoredFrame {
        guard dx_pixel_encapsulated(file.handle) == 0, let bytes = file[.pixelData]?.bytes else {
            throw DicomError(.unsupported, file: file.path, reason: "encapsulated 1-bit pixel data")
        }
        let count = layout.pixelsPerFrame * layout.samplesPerPixel
        let first = frame * count
        guard (first + count + 7) / 8 <= bytes.count else {
            throw DicomError(.decode, file: file.path, reason: "1-bit Pixel Data too short for frame \(frame)")
        }
        var values = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let bit = first + i
            values[i] = Int32((bytes[bit >> 3] >> UInt8(bit & 7)) & 1)
        }
        return StoredFrame(rows: layout.rows, columns: layout.columns, samples: layout.samplesPerPixel,
                           values: values, photometric: layout.photometric, isUnsigned32: false)
    }

    /// Native YBR_FULL_422: each pair of pixels is stored as Y1 Y2 Cb Cr; expands to 3 samples.
    static func decodeNative422(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> StoredFrame {
        guard let bytes = file[.pixelData]?.bytes, layout.bitsAllocated == 8 else {
            throw DicomError(.unsupported, file: file.path, reason: "native YBR_FULL_422 other than 8-bit")
        }
        let perFrame = layout.pixelsPerFrame * 2
        let base = frame * perFrame
        var values = [Int32](repeating: 0, count: layout.pixelsPerFrame * 3)
        for pair in 0..<(layout.pixelsPerFrame / 2) {
            let o = base + pair * 4
            let cb = Int32(bytes[o + 2]), cr = Int32(bytes[o + 3])
            for k in 0..<2 {
                let p = (pair * 2 + k) * 3
                values[p] = Int32(bytes[o + k]); values[p + 1] = cb; values[p + 2] = cr
            }
        }
        return StoredFrame(rows: layout.rows, columns: layout.columns, samples: 3, values: values,
                           photometric: "YBR_FULL", isUnsigned32: false)
    }
}
