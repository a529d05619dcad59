/// How the pixel data of an instance is laid out, from the Image Pixel module.
/// Creating one guarantees the attributes needed to decode are present and sane.
public struct PixelLayout: Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    public var samplesPerPixel: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    public var highBit: Int
    public var isSigned: Bool
    public var photometric: String
    public var planarConfiguration: Int
    public var frames: Int
    public var transferSyntaxUID: String

    public init(file: DicomFile) throws {
        func required(_ tag: Tag, _ name: String) throws -> Int {
            guard let v = file.int(tag) else {
                throw DicomError(.missingAttribute, file: file.path, reason: "no \(name) \(tag)")
            }
            return v
        }
        guard file[.pixelData] != nil else {
            throw DicomError(.missingAttribute, file: file.path, reason: "no Pixel Data (7FE0,0010)")
        }
        rows = try required(.rows, "Rows")
        columns = try required(.columns, "Columns")
        bitsAllocated = try required(.bitsAllocated, "Bits Allocated")
        bitsStored = file.int(.bitsStored) ?? bitsAllocated
        highBit = file.int(.highBit) ?? bitsStored - 1
        samplesPerPixel = file.int(.samplesPerPixel) ?? 1
        isSigned = (file.int(.pixelRepresentation) ?? 0) == 1
        photometric = file.string(.photometricInterpretation) ?? (samplesPerPixel == 3 ? "RGB" : "MONOCHROME2")
        planarConfiguration = file.int(.planarConfiguration) ?? 0
        frames = max(file.int(.numberOfFrames) ?? 1, 1)
        transferSyntaxUID = file.transferSyntaxUID
        guard rows > 0, columns > 0 else {
            throw DicomError(.missingAttribute, file: file.path, reason: "image is \(rows)x\(columns)")
        }
        guard [1, 8, 16, 32].contains(bitsAllocated), bitsStored >= 1, bitsStored <= bitsAllocated else {
            throw DicomError(.unsupported, file: file.path,
                             reason: "Bits Allocated \(bitsAllocated) / Bits Stored \(bitsStored) not supported")
        }
        guard [1, 3, 4].contains(samplesPerPixel) else {
            throw DicomError(.unsupported, file: file.path, reason: "Samples per Pixel \(samplesPerPixel)")
        }
    }

    public var pixelsPerFrame: Int { rows * columns }
    public var isMonochrome: Bool { photometric.hasPrefix("MONOCHROME") }
}
