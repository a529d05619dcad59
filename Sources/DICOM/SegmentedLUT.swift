/// Expands Segmented Palette Color LUT Data (PS3.3 C.7.9.2): discrete segments (opcode 0)
/// copy values, linear segments (opcode 1) ramp from the last value, rounded half to even.
enum SegmentedLUT {
    /// A palette has at most 65536 entries: more expanded data is an error, not an allocation.
    static func expand(_ words: [UInt16], bits: Int, file: String) throws -> [UInt16] {
        var out: [Double] = []
        var i = 0
        while i + 1 < words.count {
            guard out.count <= 65536 else {
                throw DicomError(.decode, file: file, reason: "segmented palette expands to more than 65536 entries")
            }
            let opcode = words[i], length = Int(words[i + 1])
            switch opcode {
            case 0:
                guard i + 2 + length <= words.count else {
                    throw DicomError(.decode, file: file, reason: "discrete palette segment runs past the LUT data")
                }
                out += words[(i + 2)..<(i + 2 + length)].map { Double($0) }
                i += 2 + length
            case 1:
                guard i + 2 < words.count, let start = out.last else {
                    throw DicomError(.decode, file: file, reason: "linear palette segment without a start value")
                }
                let end = Double(words[i + 2])
                let step = (end - start) / Double(length)
                for k in 1...max(length, 1) where length > 0 {
                    out.append((start + step * Double(k)).rounded(.toNearestOrEven))
                }
                i += 3
            default:
                throw DicomError(.unsupported, file: file, reason: "segmented palette opcode \(opcode)")
            }
        }
        return out.map { UInt16(clamping: Int($0)) }
    }
}
