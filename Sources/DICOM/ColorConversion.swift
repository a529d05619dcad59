import Foundation

/// Conversions of decoded colour data to RGB: YBR_FULL (ITU-R BT.601 full range, as in
/// PS3.3 C.7.6.3.1.2) and PALETTE COLOR through the Red/Green/Blue palette tables.
public enum ColorConversion {
    /// YCbCr full range to RGB, rounded and clamped to the sample range.
    public static func ybrFullToRGB(_ values: inout [Int32], bits: Int) {
        let maxValue = Double(min((1 << bits) - 1, Int(Int32.max)))
        let offset = Double(1 << (bits - 1))
        let n = values.count / 3
        for p in 0..<n {
            let y = Double(values[3 * p]), cb = Double(values[3 * p + 1]) - offset, cr = Double(values[3 * p + 2]) - offset
            let r = y + 1.402 * cr
            let g = y - (0.114 * 1.772 / 0.587) * cb - (0.299 * 1.402 / 0.587) * cr
            let b = y + 1.772 * cb
            values[3 * p] = Int32(min(max(r.rounded(), 0), maxValue))
            values[3 * p + 1] = Int32(min(max(g.rounded(), 0), maxValue))
            values[3 * p + 2] = Int32(min(max(b.rounded(), 0), maxValue))
        }
    }

    /// The three palette tables of a PALETTE COLOR image.
    public struct Palette: Sendable {
        public var red: LookupTable
        public var green: LookupTable
        public var blue: LookupTable

        public static func read(_ file: DicomFile, signedInput: Bool) throws -> Palette {
            func table(_ d: Tag, _ data: Tag) throws -> LookupTable {
                let segmentedTag = Tag(data.group, data.element + 0x20)
                var words = file[data]?.words
                if words == nil, let descriptor = file[d]?.doubles, let segments = file[segmentedTag]?.words {
                    let bits = descriptor.count > 2 && (1...16).contains(descriptor[2]) ? Int(descriptor[2]) : 16
                    words = try SegmentedLUT.expand(segments, bits: bits, file: file.path)
                }
                guard let descriptor = file[d]?.doubles, let words,
                      let t = LookupTable(descriptor: descriptor, data: words, signedInput: signedInput) else {
                    throw DicomError(.missingAttribute, file: file.path, reason: "incomplete palette colour LUT \(data)")
                }
                return t
            }
            return Palette(red: try table(.redPaletteDescriptor, .redPaletteData),
                           green: try table(.greenPaletteDescriptor, .greenPaletteData),
                           blue: try table(.bluePaletteDescriptor, .bluePaletteData))
        }

        /// Maps single-sample indices to interleaved RGB palette entries.
        public func apply(_ indices: [Int32]) -> [Int32] {
            var out = [Int32](repeating: 0, count: indices.count * 3)
            for (i, v) in indices.enumerated() {
                let x = Float(v)
                out[3 * i] = Int32(red.apply(x))
                out[3 * i + 1] = Int32(green.apply(x))
                out[3 * i + 2] = Int32(blue.apply(x))
            }
            return out
        }
    }
}
