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
    /// Nil when the descriptor is not three numbers in the ranges PS3.3 C.11.1.1 allows
    /// (count 0-65535 with 0 meaning 65536, first mapped value a US or SS, bits 1-16) or there is no data.
    public init?(descriptor: [Double], data: [UInt16], signedInput: Bool, signedData: Bool = false) {
        guard descriptor.count >= 3, !data.isEmpty,
              descriptor.prefix(3).allSatisfy({ $0.isFinite && $0 == $0.rounded() }),
              (0...65535).contains(descriptor[0]), (-32768...65535).contains(descriptor[1]),
              (1...16).contains(descriptor[2]) else { return nil }
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
    /// Nil when the item holds no LUT; throws when it holds one whose descriptor is invalid.
    public static func read(_ file: DicomFile, path: [Tag], items: [Int], signedInput: Bool) throws -> LookupTable? {
        guard let descriptor = file.element(path + [.lutDescriptor], items: items)?.doubles,
              let dataElement = file.element(path + [.lutData], items: items),
              let words = dataElement.words else { return nil }
        guard let table = LookupTable(descriptor: descriptor, data: words, signedInput: signedInput,
                                      signedData: dataElement.vr == "SS") else {
            throw DicomError(.decode, file: file.path, reason: "LUT Descriptor \(descriptor) is not valid")
        }
        return table
    }

    @inline(__always) public func apply(_ x: Float) -> Float {
        // Inputs are pixel values (|x| < 2^32), clamped anyway so the conversion cannot trap.
        let i = Int(Swift.min(Swift.max(x.rounded(.down), -4.0e9), 4.0e9)) - firstMapped
        if i <= 0 { return entries[0] }
        if i >= entries.count { return entries[entries.count - 1] }
        return entries[i]
    }

    /// Largest value an entry can hold.
    public var maxOutput: Float { Float((1 << bitsPerEntry) - 1) }
}
