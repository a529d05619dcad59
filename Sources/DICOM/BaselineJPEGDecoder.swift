import CTurboJPEG

/// Greyscale 8-bit JPEG Baseline frames through libjpeg-turbo (SIMD, about twice as fast as the
/// IJG copy inside DCMTK, the same accurate integer IDCT and so the same values: the pixel
/// conformance tests compare both against pydicom). Returns nil when libjpeg-turbo cannot read
/// the stream or its size disagrees with the attributes, and DCMTK decodes it instead.
enum BaselineJPEGDecoder {
    /// Off only in tests that compare this decoder with DCMTK's.
    nonisolated(unsafe) static var enabled = true

    static func applies(_ layout: PixelLayout) -> Bool {
        enabled && layout.transferSyntaxUID == "1.2.840.10008.1.2.4.50" && layout.samplesPerPixel == 1 && layout.bitsAllocated == 8
    }

    static func decodeFrame(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> FrameDecoder.RawFrame? {
        try FrameDecoder.withEncapsulatedFrame(file, layout: layout, frame: frame) { source in
            guard let handle = tjInitDecompress() else { return nil }
            defer { tjDestroy(handle) }
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, source.baseAddress, UInt(source.count), &width, &height, &subsampling, &colorspace) == 0,
                  colorspace == Int32(TJCS_GRAY.rawValue), Int(width) == layout.columns, Int(height) == layout.rows else { return nil }
            let size = layout.pixelsPerFrame
            var ok = false
            let bytes = [UInt8](unsafeUninitializedCapacity: size + 1) { out, count in
                ok = tjDecompress2(handle, source.baseAddress, UInt(source.count), out.baseAddress, width, 0, height,
                                   Int32(TJPF_GRAY.rawValue), 0) == 0
                out[size] = 0
                count = size + 1
            }
            return ok ? FrameDecoder.RawFrame(bytes: bytes, photometric: layout.photometric, planar: 0) : nil
        }
    }
}
