/// How the pixel data of an instance is laid out, from the Image Pixel module.
/// Creating one guarantees the attributes needed to decode are present, consistent with each
/// other (samples with the photometric interpretation, bits, planar configuration) and within
/// `DecodeLimits`, so that every size computed from them fits in an `Int` and in memory.
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

    /// Samples per pixel each photometric interpretation requires (PS3.3 C.7.6.3.1.2).
    static let samplesRequired: [String: Int] = [
        "MONOCHROME1": 1, "MONOCHROME2": 1, "PALETTE COLOR": 1,
        "RGB": 3, "YBR_FULL": 3, "YBR_FULL_422": 3, "YBR_PARTIAL_422": 3, "YBR_PARTIAL_420": 3,
        "YBR_ICT": 3, "YBR_RCT": 3, "HSV": 3, "ARGB": 4, "CMYK": 4,
    ]

    public init(file: DicomFile, limits: DecodeLimits = .standard) throws {
        func fail(_ kind: DicomError.Kind, _ reason: String) -> DicomError { DicomError(kind, file: file.path, reason: reason) }
        func required(_ tag: Tag, _ name: String) throws -> Int {
            guard let v = try file.checkedInt(tag, name) else { throw fail(.missingAttribute, "no \(name) \(tag)") }
            return v
        }
        guard file[.pixelData] != nil else { throw fail(.missingAttribute, "no Pixel Data (7FE0,0010)") }
        rows = try required(.rows, "Rows")
        columns = try required(.columns, "Columns")
        bitsAllocated = try required(.bitsAllocated, "Bits Allocated")
        bitsStored = try file.checkedInt(.bitsStored, "Bits Stored") ?? bitsAllocated
        let declaredHighBit = try file.checkedInt(.highBit, "High Bit") ?? bitsStored - 1
        samplesPerPixel = try file.checkedInt(.samplesPerPixel, "Samples per Pixel") ?? 1
        isSigned = (try file.checkedInt(.pixelRepresentation, "Pixel Representation") ?? 0) == 1
        photometric = file.string(.photometricInterpretation)?.uppercased() ?? (samplesPerPixel == 3 ? "RGB" : "MONOCHROME2")
        planarConfiguration = try file.checkedInt(.planarConfiguration, "Planar Configuration") ?? 0
        // NumberOfFrames 0 or absent means one frame; a negative count is not a count.
        let declaredFrames = try file.checkedInt(.numberOfFrames, "Number of Frames") ?? 1
        guard declaredFrames >= 0 else { throw fail(.parse, "Number of Frames \(declaredFrames)") }
        frames = Swift.max(declaredFrames, 1)
        transferSyntaxUID = file.transferSyntaxUID

        guard (1...65535).contains(rows), (1...65535).contains(columns) else {
            throw fail(.missingAttribute, "image is \(rows)x\(columns) (Rows and Columns must be 1-65535)")
        }
        guard [1, 8, 16, 32].contains(bitsAllocated), bitsStored >= 1, bitsStored <= bitsAllocated else {
            throw fail(.unsupported, "Bits Allocated \(bitsAllocated) / Bits Stored \(bitsStored) not supported")
        }
        // A High Bit outside the allocated bits is ignored, as pydicom does: the stored bits are the low ones.
        highBit = declaredHighBit >= bitsStored - 1 && declaredHighBit < bitsAllocated ? declaredHighBit : bitsStored - 1
        guard let required = Self.samplesRequired[photometric] else {
            throw fail(.unsupported, "photometric interpretation \(photometric)")
        }
        guard samplesPerPixel == required else {
            throw fail(.unsupported, "Samples per Pixel \(samplesPerPixel) with photometric interpretation \(photometric) (which has \(required))")
        }
        guard samplesPerPixel == 1 || planarConfiguration == 0 || planarConfiguration == 1 else {
            throw fail(.unsupported, "Planar Configuration \(planarConfiguration)")
        }
        let pixels = rows * columns
        guard pixels <= limits.maxPixelsPerFrame else {
            throw fail(.unsupported, "a frame of \(rows)x\(columns) = \(pixels) pixels is above the decode limit of \(limits.maxPixelsPerFrame) (--max-pixels)")
        }
        guard decodeBytes <= limits.maxDecodeBytes else {
            throw fail(.unsupported, "decoding a \(rows)x\(columns)x\(samplesPerPixel) frame needs about \(decodeBytes >> 20) MiB, above the memory limit of \(limits.maxDecodeBytes >> 20) MiB (--max-memory)")
        }
    }

    public var pixelsPerFrame: Int { rows * columns }
    public var isMonochrome: Bool { photometric.hasPrefix("MONOCHROME") }

    /// Bytes of one frame as stored, uncompressed (1-bit data rounded up to whole bytes).
    public var frameBytes: Int {
        bitsAllocated == 1 ? (pixelsPerFrame * samplesPerPixel + 7) / 8 : pixelsPerFrame * samplesPerPixel * (bitsAllocated / 8)
    }

    /// A bound on the memory decoding one frame takes at its peak: the decompressed bytes, the
    /// stored values (Int32), and two Float32 images (the decoded frame and a transformed copy).
    public var decodeBytes: Int { frameBytes + pixelsPerFrame * samplesPerPixel * 12 + pixelsPerFrame * 4 }
}
