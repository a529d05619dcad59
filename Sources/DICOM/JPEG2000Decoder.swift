import COpenJPEG

/// Decodes JPEG 2000 and HTJ2K frames with OpenJPEG (DCMTK has no such codec).
/// OpenJPEG applies the inverse component transform, so YBR_ICT/YBR_RCT come back as RGB.
enum JPEG2000Decoder {
    struct Failure: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// The compressed bitstream and a read cursor, handed to OpenJPEG's callbacks.
    final class Source {
        let bytes: [UInt8]
        var offset = 0
        var messages: [String] = []
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    static func decodeFrame(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> StoredFrame {
        let bytes = try FrameDecoder.withEncapsulatedFrame(file, layout: layout, frame: frame) { Array($0) }
        do {
            return try decode(bytes, layout: layout)
        } catch let failure as Failure {
            throw DicomError(.decode, file: file.path, reason: "JPEG 2000: \(failure.reason)")
        }
    }

    static func decode(_ bytes: [UInt8], layout: PixelLayout) throws -> StoredFrame {
        let isJP2 = bytes.count > 8 && bytes[4] == 0x6A && bytes[5] == 0x50
        guard let codec = opj_create_decompress(isJP2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K) else { throw Failure("no codec") }
        defer { opj_destroy_codec(codec) }
        let source = Source(bytes)
        let context = Unmanaged.passUnretained(source).toOpaque()
        let onMessage: opj_msg_callback = { msg, user in
            guard let msg, let user else { return }
            let s = Unmanaged<Source>.fromOpaque(user).takeUnretainedValue()
            s.messages.append(String(cString: msg).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        opj_set_error_handler(codec, onMessage, context)
        var params = opj_dparameters_t()
        opj_set_default_decoder_parameters(&params)
        guard opj_setup_decoder(codec, &params) != 0 else { throw Failure("decoder setup failed") }

        guard let stream = opj_stream_create(1 << 16, 1) else { throw Failure("no stream") }
        defer { opj_stream_destroy(stream) }
        opj_stream_set_user_data(stream, context, nil)
        opj_stream_set_user_data_length(stream, UInt64(bytes.count))
        opj_stream_set_read_function(stream) { buffer, n, user in
            let s = Unmanaged<Source>.fromOpaque(user!).takeUnretainedValue()
            let count = min(n, s.bytes.count - s.offset)
            if count <= 0 { return ~0 }  // (OPJ_SIZE_T)-1: end of stream
            s.bytes.withUnsafeBytes { src in
                buffer!.copyMemory(from: src.baseAddress! + s.offset, byteCount: count)
            }
            s.offset += count
            return count
        }
        opj_stream_set_skip_function(stream) { n, user in
            let s = Unmanaged<Source>.fromOpaque(user!).takeUnretainedValue()
            let target = max(0, min(s.bytes.count, s.offset + Int(n)))
            let moved = target - s.offset
            s.offset = target
            return Int64(moved)
        }
        opj_stream_set_seek_function(stream) { n, user in
            let s = Unmanaged<Source>.fromOpaque(user!).takeUnretainedValue()
            guard n >= 0, Int(n) <= s.bytes.count else { return 0 }
            s.offset = Int(n)
            return 1
        }

        var imagePointer: UnsafeMutablePointer<opj_image_t>?
        func failure(_ what: String) -> String {
            source.messages.isEmpty ? what : "\(what): \(source.messages.joined(separator: "; "))"
        }
        guard opj_read_header(stream, codec, &imagePointer) != 0, let image = imagePointer else {
            throw Failure(failure("header could not be read"))
        }
        defer { opj_image_destroy(image) }
        // The header's size is checked before OpenJPEG allocates the components.
        let (w, h) = (Int(image.pointee.x1) - Int(image.pointee.x0), Int(image.pointee.y1) - Int(image.pointee.y0))
        guard w == layout.columns, h == layout.rows, Int(image.pointee.numcomps) == layout.samplesPerPixel else {
            throw Failure("codestream is \(w)x\(h) with \(image.pointee.numcomps) components, attributes say \(layout.columns)x\(layout.rows)x\(layout.samplesPerPixel)")
        }
        guard opj_decode(codec, stream, image) != 0, opj_end_decompress(codec, stream) != 0 else {
            throw Failure(failure("decoding failed"))
        }
        return try collect(image.pointee, layout: layout)
    }

    /// Interleaves OpenJPEG's component planes into stored values.
    static func collect(_ image: opj_image_t, layout: PixelLayout) throws -> StoredFrame {
        let n = Int(image.numcomps)
        guard n >= 1, let comps = image.comps else { throw Failure("no components") }
        guard n == layout.samplesPerPixel else {
            throw Failure("codestream has \(n) components, Samples per Pixel is \(layout.samplesPerPixel)")
        }
        let w = Int(comps[0].w), h = Int(comps[0].h)
        guard w == layout.columns, h == layout.rows else {
            throw Failure("codestream is \(w)x\(h), attributes say \(layout.columns)x\(layout.rows)")
        }
        for c in 0..<n where Int(comps[c].w) != w || Int(comps[c].h) != h {
            throw Failure("subsampled components are not supported")
        }
        var values = [Int32](repeating: 0, count: w * h * n)
        for c in 0..<n {
            let comp = comps[c]
            guard let data = comp.data else { throw Failure("component \(c) has no data") }
            let precision = Int(comp.prec)
            // Pixel Representation wins over the codestream's sign flag, as in pydicom.
            let toSigned = layout.isSigned && comp.sgnd == 0 && precision < 32
            let half = Int32(1) << Int32(max(precision - 1, 0))
            for p in 0..<(w * h) {
                var v = data[p]
                if toSigned && v >= half { v -= half << 1 }
                values[p * n + c] = v
            }
        }
        var photometric = layout.photometric
        if n >= 3 && (photometric == "YBR_ICT" || photometric == "YBR_RCT") { photometric = "RGB" }
        return StoredFrame(rows: h, columns: w, samples: n, values: values, photometric: photometric,
                           isUnsigned32: layout.bitsAllocated == 32 && !layout.isSigned)
    }
}

