/// A DICOM lookup table (Modality LUT, VOI LUT or palette channel): input values below
/// the first mapped value take the first entry, above the last take the last entry.
public struct LookupTable: Sendable, Equatable {
    public var firstMapped: Int
    public var entries: [Float]
    public var bitsPerEntry: Int

    public init(firstMapped: Int, entries: [Float], bitsPerEntry: Int) {
        self.firstMapped = firstMapped
        self.entries = entries
        self.bitsPerEntry = bitsPerEntry
    }

    /// Builds a table from its LUT Descriptor (count, first mapped, bits) and LUT Data words.
    /// `signedInput` reads the first mapped value as signed (Pixel Representation 1).
    public init?(descriptor: [Double], data: [UInt16], signedInput: Bool, signedData: Bool = false) {
        guard descriptor.count >= 3, !data.isEmpty else { return nil }
        let count = descriptor[0] == 0 ? 65536 : Int(descriptor[0])
        var first = Int(descriptor[1])
        if signedInput && first > 32767 { first -= 65536 }
        var bits = Int(descriptor[2])
        var values: [Float]
        if bits == 8 && data.count * 2 >= count && data.count < count {
            // 8-bit entries packed two to a 16-bit word, low byte first.
            values = (0..<count).map { i in Float((data[i / 2] >> (i % 2 == 0 ? 0 : 8)) & 0xFF) }
        } else {
            values = data.prefix(count).map { signedData ? Float(Int16(bitPattern: $0)) : Float($0) }
            if bits == 8 && (values.max() ?? 0) > 255 { bits = 16 }
        }
        while values.count < count { values.append(values.last ?? 0) }
        self.init(firstMapped: first, entries: values, bitsPerEntry: bits)
    }

    /// Reads the LUT in item `item` of `sequence` (e.g. Modality LUT Sequence).
    public static func read(_ file: DicomFile, path: [Tag], items: [Int], signedInput: Bool) -> LookupTable? {
        guard let descriptor = file.element(path + [.lutDescriptor], items: items)?.doubles,
              let dataElement = file.element(path + [.lutData], items: items),
              let words = dataElement.words else { return nil }
        return LookupTable(descriptor: descriptor, data: words, signedInput: signedInput,
                           signedData: dataElement.vr == "SS")
    }

    @inline(__always) public func apply(_ x: Float) -> Float {
        let i = Int(x.rounded(.down)) - firstMapped
        if i <= 0 { return entries[0] }
        if i >= entries.count { return entries[entries.count - 1] }
        return entries[i]
    }

    /// Largest value an entry can hold.
    public var maxOutput: Float { Float((1 << bitsPerEntry) - 1) }
}
