
/// DICOM RLE Lossless (PS3.5 Annex G): one PackBits segment per byte plane, most significant
/// byte first. Decodes straight into colour-by-pixel, little-endian samples — the layout
/// DCMTK's codecs produce — so the rest of the pipeline treats both alike.
enum RLEDecoder {
    static let transferSyntax = "1.2.840.10008.1.2.5"

    static func decodeFrame(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> FrameDecoder.RawFrame {
        let bytes = try FrameDecoder.withEncapsulatedFrame(file, layout: layout, frame: frame) {
            try decode($0, layout: layout, file: file.path)
        }
        return FrameDecoder.RawFrame(bytes: bytes, photometric: layout.photometric, planar: 0)
    }

    static func decode(_ src: UnsafeBufferPointer<UInt8>, layout: PixelLayout, file: String) throws -> [UInt8] {
        let bytesPerSample = layout.bitsAllocated / 8
        let samples = layout.samplesPerPixel
        let pixels = layout.pixelsPerFrame
        let stride = samples * bytesPerSample
        guard src.count >= 64 else { throw DicomError(.decode, file: file, reason: "RLE header truncated") }
        func word(_ i: Int) -> Int {
            Int(src[4 * i]) | Int(src[4 * i + 1]) << 8 | Int(src[4 * i + 2]) << 16 | Int(src[4 * i + 3]) << 24
        }
        let segments = word(0)
        guard segments == samples * bytesPerSample, segments <= 15 else {
            throw DicomError(.decode, file: file,
                             reason: "RLE frame has \(segments) segments, \(samples * bytesPerSample) expected")
        }
        let total = pixels * stride
        // Each segment decodes into its own contiguous plane (runs become memcpy/memset), then
        // the planes are interleaved into little-endian samples in one vectorisable pass.
        var planes = [UInt8](repeating: 0, count: pixels * segments)
        try planes.withUnsafeMutableBufferPointer { plane in
            for segment in 0..<segments {
                let start = word(1 + segment)
                let end = segment + 1 < segments ? word(2 + segment) : src.count
                guard start >= 64, start <= end, end <= src.count else {
                    throw DicomError(.decode, file: file, reason: "RLE segment \(segment) offset out of range")
                }
                let decoded = unpackBits(src, from: start, to: end, into: plane.baseAddress! + segment * pixels, count: pixels)
                guard decoded == pixels else {
                    throw DicomError(.decode, file: file, reason: "RLE segment \(segment) decodes to \(decoded) bytes, \(pixels) expected (truncated, or Rows/Columns wrong)")
                }
            }
        }
        return [UInt8](unsafeUninitializedCapacity: total + 1) { out, initialized in
            planes.withUnsafeBufferPointer { plane in
                let p = plane.baseAddress!, o = out.baseAddress!
                if bytesPerSample == 2 && samples == 1 {
                    let words = UnsafeMutableRawPointer(o).assumingMemoryBound(to: UInt16.self)
                    let hi = p, lo = p + pixels
                    for i in 0..<pixels { words[i] = UInt16(hi[i]) << 8 | UInt16(lo[i]) }
                } else if segments == 1 {
                    o.update(from: p, count: pixels)
                } else {
                    // Segment order: sample 0 MSB…LSB, sample 1 MSB…LSB, …
                    for segment in 0..<segments {
                        let sample = segment / bytesPerSample, significance = segment % bytesPerSample
                        let offset = sample * bytesPerSample + (bytesPerSample - 1 - significance)
                        let src = p + segment * pixels
                        for i in 0..<pixels { o[i * stride + offset] = src[i] }
                    }
                }
            }
            out[total] = 0
            initialized = total + 1
        }
    }

    /// PackBits into `dst`, stopping after `count` bytes (extra input is padding); returns the
    /// bytes written (fewer than `count` when the segment is short).
    @inline(__always) @discardableResult
    static func unpackBits(_ src: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int,
                           into dst: UnsafeMutablePointer<UInt8>, count: Int) -> Int {
        var i = start, o = 0
        let s = src.baseAddress!
        while i < end && o < count {
            let n = Int(Int8(bitPattern: s[i]))
            i += 1
            if n >= 0 {
                let run = min(n + 1, count - o, end - i)
                (dst + o).update(from: s + i, count: run)
                i += n + 1
                o += run
            } else if n != -128 {
                guard i < end else { break }
                let run = min(1 - n, count - o)
                (dst + o).update(repeating: s[i], count: run)
                i += 1
                o += run
            }
        }
        return o
    }
}
