import CCharLS

/// JPEG-LS lossless and near-lossless through CharLS 2 (Debian's libcharls), which decodes
/// several times faster than the CharLS 1 copy inside DCMTK. Produces colour-by-pixel,
/// little-endian samples like the other decoders.
enum JPEGLSDecoder {
    static let transferSyntaxes: Set<String> = ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"]

    static func decodeFrame(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> FrameDecoder.RawFrame {
        try FrameDecoder.withEncapsulatedFrame(file, layout: layout, frame: frame) { source in
            try decode(source, layout: layout, file: file.path)
        }
    }

    static func decode(_ source: UnsafeBufferPointer<UInt8>, layout: PixelLayout, file path: String) throws -> FrameDecoder.RawFrame {
        func fail(_ code: charls_jpegls_errc) -> DicomError {
            DicomError(.decode, file: path, reason: "JPEG-LS: \(String(cString: charls_get_error_message(code)))")
        }
        guard let decoder = charls_jpegls_decoder_create() else { throw fail(CHARLS_JPEGLS_ERRC_NOT_ENOUGH_MEMORY) }
        defer { charls_jpegls_decoder_destroy(decoder) }
        var code = charls_jpegls_decoder_set_source_buffer(decoder, source.baseAddress!, source.count)
        if code == CHARLS_JPEGLS_ERRC_SUCCESS { code = charls_jpegls_decoder_read_header(decoder) }
        var info = charls_frame_info()
        if code == CHARLS_JPEGLS_ERRC_SUCCESS { code = charls_jpegls_decoder_get_frame_info(decoder, &info) }
        guard code == CHARLS_JPEGLS_ERRC_SUCCESS else { throw fail(code) }
        guard Int(info.width) == layout.columns, Int(info.height) == layout.rows,
              Int(info.component_count) == layout.samplesPerPixel else {
            throw DicomError(.decode, file: path, reason: "JPEG-LS frame is \(info.width)x\(info.height)x\(info.component_count), attributes say \(layout.columns)x\(layout.rows)x\(layout.samplesPerPixel)")
        }
        var interleave = CHARLS_INTERLEAVE_MODE_NONE
        _ = charls_jpegls_decoder_get_interleave_mode(decoder, &interleave)
        var size = 0
        code = charls_jpegls_decoder_get_destination_size(decoder, 0, &size)
        guard code == CHARLS_JPEGLS_ERRC_SUCCESS else { throw fail(code) }
        let expected = layout.pixelsPerFrame * layout.samplesPerPixel * (info.bits_per_sample > 8 ? 2 : 1)
        guard size == expected, (info.bits_per_sample > 8) == (layout.bitsAllocated == 16) else {
            throw DicomError(.decode, file: path,
                             reason: "JPEG-LS precision \(info.bits_per_sample) does not fit Bits Allocated \(layout.bitsAllocated)")
        }
        var bytes = [UInt8](unsafeUninitializedCapacity: size + 1) { out, count in
            code = charls_jpegls_decoder_decode_to_buffer(decoder, out.baseAddress!, size, 0)
            out[size] = 0
            count = size + 1
        }
        guard code == CHARLS_JPEGLS_ERRC_SUCCESS else { throw fail(code) }
        if layout.samplesPerPixel > 1 && interleave == CHARLS_INTERLEAVE_MODE_NONE {
            bytes = interleavePlanes(bytes, samples: layout.samplesPerPixel, pixels: layout.pixelsPerFrame,
                                     bytesPerSample: info.bits_per_sample > 8 ? 2 : 1)
        }
        return FrameDecoder.RawFrame(bytes: bytes, photometric: layout.photometric, planar: 0)
    }

    static func interleavePlanes(_ planes: [UInt8], samples: Int, pixels: Int, bytesPerSample: Int) -> [UInt8] {
        var out = planes
        for s in 0..<samples {
            for p in 0..<pixels {
                for b in 0..<bytesPerSample {
                    out[(p * samples + s) * bytesPerSample + b] = planes[(s * pixels + p) * bytesPerSample + b]
                }
            }
        }
        return out
    }
}
