/// The fast path for the common case: 8- or 16-bit monochrome frames whose modality transform
/// is a rescale (or none) go from decoded bytes straight to Float32 in one branch-free pass —
/// masking to Bits Stored, sign extension and slope/intercept fused. The arithmetic is done in
/// Float only where that is exact (power-of-two slope, integral intercept, 16-bit input);
/// otherwise in Double, as the general path does.
enum MonochromeConversion {
    static func convert(_ raw: FrameDecoder.RawFrame, layout: PixelLayout, transform: ModalityTransform) -> [Float]? {
        guard layout.samplesPerPixel == 1, layout.bitsAllocated == 8 || layout.bitsAllocated == 16,
              raw.photometric.hasPrefix("MONOCHROME"),
              raw.bytes.count >= layout.pixelsPerFrame * (layout.bitsAllocated / 8) else { return nil }
        return raw.bytes.withUnsafeBytes { src in
            convert(src, count: layout.pixelsPerFrame, layout: layout, transform: transform)
        }
    }

    static func convert(_ src: UnsafeRawBufferPointer, count: Int, layout: PixelLayout,
                        transform: ModalityTransform) -> [Float]? {
        let slope: Double, intercept: Double
        switch transform {
        case .identity: (slope, intercept) = (1, 0)
        case let .rescale(s, b): (slope, intercept) = (s, b)
        case .lut: return nil
        }
        let bits = layout.bitsStored
        let shift = max(layout.highBit + 1 - bits, 0)
        // Signed: move the sign bit to bit 31, then shift back arithmetically.
        let left = Int32(32 - bits - shift), right = Int32(32 - bits)
        let mask = Int32((1 << bits) - 1)
        let signed = layout.isSigned
        let powerOfTwoSlope: Bool = slope != 0 && slope.significandBitPattern == 0 && Swift.abs(slope) <= 1024
        let integralIntercept: Bool = intercept == intercept.rounded() && Swift.abs(intercept) < 4_194_304.0
        let exactInFloat = powerOfTwoSlope && integralIntercept
        let fs = Float(slope), fb = Float(intercept)
        let wide = layout.bitsAllocated == 16

        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            let dst = out.baseAddress!
            if wide {
                let words = src.baseAddress!.assumingMemoryBound(to: UInt16.self)
                if exactInFloat {
                    if signed {
                        for i in 0..<count { dst[i] = Float((Int32(Int16(bitPattern: words[i])) &<< left) &>> right) * fs + fb }
                    } else if bits == 16 {
                        for i in 0..<count { dst[i] = Float(words[i]) * fs + fb }
                    } else {
                        for i in 0..<count { dst[i] = Float((Int32(words[i]) &>> Int32(shift)) & mask) * fs + fb }
                    }
                } else {
                    for i in 0..<count {
                        let v = signed ? (Int32(Int16(bitPattern: words[i])) &<< left) &>> right
                                       : (Int32(words[i]) &>> Int32(shift)) & mask
                        dst[i] = Float(Double(v) * slope + intercept)
                    }
                }
            } else {
                let bytes = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
                for i in 0..<count {
                    let v = signed ? (Int32(Int8(bitPattern: bytes[i])) &<< left) &>> right
                                   : (Int32(bytes[i]) &>> Int32(shift)) & mask
                    dst[i] = exactInFloat ? Float(v) * fs + fb : Float(Double(v) * slope + intercept)
                }
            }
            initialized = count
        }
    }
}
