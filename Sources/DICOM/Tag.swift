/// A DICOM attribute tag (group, element).
public struct Tag: Hashable, Sendable, CustomStringConvertible {
    public let group: UInt16
    public let element: UInt16

    public init(_ group: UInt16, _ element: UInt16) {
        self.group = group
        self.element = element
    }

    /// The tag as one 32-bit key, group in the high half.
    public var key: UInt32 { UInt32(group) << 16 | UInt32(element) }

    public var description: String {
        "(" + hex4(group) + "," + hex4(element) + ")"
    }

    private func hex4(_ v: UInt16) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - s.count) + s
    }
}

extension Tag {
    public static let mediaStorageSOPClassUID = Tag(0x0002, 0x0002)
    public static let transferSyntaxUID = Tag(0x0002, 0x0010)
    public static let specificCharacterSet = Tag(0x0008, 0x0005)
    public static let sopClassUID = Tag(0x0008, 0x0016)
    public static let sopInstanceUID = Tag(0x0008, 0x0018)
    public static let studyDate = Tag(0x0008, 0x0020)
    public static let seriesDate = Tag(0x0008, 0x0021)
    public static let acquisitionDate = Tag(0x0008, 0x0022)
    public static let contentDate = Tag(0x0008, 0x0023)
    public static let studyTime = Tag(0x0008, 0x0030)
    public static let accessionNumber = Tag(0x0008, 0x0050)
    public static let modality = Tag(0x0008, 0x0060)
    public static let manufacturer = Tag(0x0008, 0x0070)
    public static let institutionName = Tag(0x0008, 0x0080)
    public static let stationName = Tag(0x0008, 0x1010)
    public static let studyDescription = Tag(0x0008, 0x1030)
    public static let seriesDescription = Tag(0x0008, 0x103E)
    public static let manufacturerModelName = Tag(0x0008, 0x1090)
    public static let patientName = Tag(0x0010, 0x0010)
    public static let patientID = Tag(0x0010, 0x0020)
    public static let issuerOfPatientID = Tag(0x0010, 0x0021)
    public static let patientBirthDate = Tag(0x0010, 0x0030)
    public static let patientSex = Tag(0x0010, 0x0040)
    public static let patientAge = Tag(0x0010, 0x1010)
    public static let bodyPartExamined = Tag(0x0018, 0x0015)
    public static let viewPosition = Tag(0x0018, 0x5101)
    public static let studyInstanceUID = Tag(0x0020, 0x000D)
    public static let seriesInstanceUID = Tag(0x0020, 0x000E)
    public static let seriesNumber = Tag(0x0020, 0x0011)
    public static let instanceNumber = Tag(0x0020, 0x0013)
    public static let laterality = Tag(0x0020, 0x0060)
    public static let imageLaterality = Tag(0x0020, 0x0062)
    public static let samplesPerPixel = Tag(0x0028, 0x0002)
    public static let photometricInterpretation = Tag(0x0028, 0x0004)
    public static let planarConfiguration = Tag(0x0028, 0x0006)
    public static let numberOfFrames = Tag(0x0028, 0x0008)
    public static let rows = Tag(0x0028, 0x0010)
    public static let columns = Tag(0x0028, 0x0011)
    public static let pixelSpacing = Tag(0x0028, 0x0030)
    public static let imagerPixelSpacing = Tag(0x0018, 0x1164)
    public static let bitsAllocated = Tag(0x0028, 0x0100)
    public static let bitsStored = Tag(0x0028, 0x0101)
    public static let highBit = Tag(0x0028, 0x0102)
    public static let pixelRepresentation = Tag(0x0028, 0x0103)
    public static let windowCenter = Tag(0x0028, 0x1050)
    public static let windowWidth = Tag(0x0028, 0x1051)
    public static let rescaleIntercept = Tag(0x0028, 0x1052)
    public static let rescaleSlope = Tag(0x0028, 0x1053)
    public static let voiLUTFunction = Tag(0x0028, 0x1056)
    public static let redPaletteDescriptor = Tag(0x0028, 0x1101)
    public static let greenPaletteDescriptor = Tag(0x0028, 0x1102)
    public static let bluePaletteDescriptor = Tag(0x0028, 0x1103)
    public static let redPaletteData = Tag(0x0028, 0x1201)
    public static let greenPaletteData = Tag(0x0028, 0x1202)
    public static let bluePaletteData = Tag(0x0028, 0x1203)
    public static let segmentedRedPaletteData = Tag(0x0028, 0x1221)
    public static let modalityLUTSequence = Tag(0x0028, 0x3000)
    public static let lutDescriptor = Tag(0x0028, 0x3002)
    public static let lutData = Tag(0x0028, 0x3006)
    public static let voiLUTSequence = Tag(0x0028, 0x3010)
    public static let pixelValueTransformationSequence = Tag(0x0028, 0x9145)
    public static let frameVOILUTSequence = Tag(0x0028, 0x9132)
    public static let sharedFunctionalGroups = Tag(0x5200, 0x9229)
    public static let perFrameFunctionalGroups = Tag(0x5200, 0x9230)
    public static let pixelData = Tag(0x7FE0, 0x0010)
}
