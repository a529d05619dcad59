import Foundation

/// The header of one DICOM instance: identification, demographics, acquisition and
/// pixel layout, as read from the file. Values are trimmed; absent attributes are nil.
public struct Instance: Codable, Sendable, Equatable {
    public var sopInstanceUID: String
    public var sopClassUID: String?
    public var studyInstanceUID: String?
    public var seriesInstanceUID: String?
    public var transferSyntaxUID: String

    public var patientID: String?
    /// IssuerOfPatientID (0010,0021): the namespace PatientID belongs to.
    public var issuerOfPatientID: String?
    public var patientName: String?
    public var patientSex: String?
    public var patientBirthDate: String?
    /// PatientAge when present, else BirthDate vs the study (or series/acquisition/content) date.
    public var ageYears: Double?

    public var studyDate: String?
    public var studyDescription: String?
    public var accessionNumber: String?
    public var seriesNumber: Int?
    public var seriesDescription: String?
    public var instanceNumber: Int?
    public var modality: String?
    public var bodyPart: String?
    public var viewPosition: String?
    /// ImageLaterality, else Laterality.
    public var laterality: String?
    public var manufacturer: String?
    public var manufacturerModel: String?
    public var institution: String?
    public var station: String?

    public var photometric: String?
    public var samplesPerPixel: Int?
    public var rows: Int?
    public var columns: Int?
    public var frames: Int
    public var bitsAllocated: Int?
    public var bitsStored: Int?
    public var pixelRepresentation: Int?
    /// Row and column spacing in mm (PixelSpacing, else ImagerPixelSpacing).
    public var pixelSpacing: [Double]?
    public var windowCenter: Double?
    public var windowWidth: Double?
    public var hasPixelData: Bool
}

extension Instance {
    /// Reads the header of an open file. Throws when the SOP Instance UID is missing.
    public init(file: DicomFile) throws {
        guard let sop = file.string(.sopInstanceUID) else {
            throw DicomError(.missingAttribute, file: file.path, reason: "no SOP Instance UID (0008,0018)")
        }
        sopInstanceUID = sop
        sopClassUID = file.string(.sopClassUID) ?? file.string(.mediaStorageSOPClassUID)
        studyInstanceUID = file.string(.studyInstanceUID)
        seriesInstanceUID = file.string(.seriesInstanceUID)
        transferSyntaxUID = file.transferSyntaxUID
        patientID = file.string(.patientID)
        issuerOfPatientID = file.string(.issuerOfPatientID)
        patientName = file.string(.patientName)
        patientSex = file.string(.patientSex)?.uppercased()
        patientBirthDate = file.string(.patientBirthDate)
        studyDate = file.string(.studyDate)
        let referenceDate = studyDate ?? file.string(.seriesDate) ?? file.string(.acquisitionDate)
            ?? file.string(.contentDate)
        ageYears = PatientAge.years(ageString: file.string(.patientAge),
                                    birthDate: patientBirthDate, at: referenceDate)
        studyDescription = file.string(.studyDescription)
        accessionNumber = file.string(.accessionNumber)
        seriesNumber = file.int(.seriesNumber)
        seriesDescription = file.string(.seriesDescription)
        instanceNumber = file.int(.instanceNumber)
        modality = file.string(.modality)
        bodyPart = file.string(.bodyPartExamined)
        viewPosition = file.string(.viewPosition)
        laterality = file.string(.imageLaterality) ?? file.string(.laterality)
        manufacturer = file.string(.manufacturer)
        manufacturerModel = file.string(.manufacturerModelName)
        institution = file.string(.institutionName)
        station = file.string(.stationName)
        photometric = file.string(.photometricInterpretation)
        samplesPerPixel = file.int(.samplesPerPixel)
        rows = file.int(.rows)
        columns = file.int(.columns)
        frames = max(file.int(.numberOfFrames) ?? 1, 1)
        bitsAllocated = file.int(.bitsAllocated)
        bitsStored = file.int(.bitsStored)
        pixelRepresentation = file.int(.pixelRepresentation)
        let spacing = (file[.pixelSpacing]?.doubles ?? file[.imagerPixelSpacing]?.doubles)?.filter(\.isFinite)
        pixelSpacing = (spacing?.isEmpty ?? true) ? nil : spacing
        windowCenter = file.double(.windowCenter)
        windowWidth = file.double(.windowWidth)
        hasPixelData = file[.pixelData] != nil
    }
}

extension Instance {
    /// Who the instance belongs to, as the index keys patients: PatientID qualified by its issuer
    /// (joined by a backslash, which a PatientID cannot hold); a stand-in naming the study when
    /// there is no PatientID. Two instances of one study with different keys are an identity conflict.
    public var patientKey: String {
        guard let id = patientID else { return "(no PatientID) study \(studyInstanceUID ?? sopInstanceUID)" }
        guard let issuer = issuerOfPatientID else { return id }
        return id + "\\" + issuer
    }
}

/// Age in years from DICOM's PatientAge (nnnD/W/M/Y) or from two DA dates.
public enum PatientAge {
    public static func years(ageString: String?, birthDate: String?, at date: String?) -> Double? {
        if let s = ageString, let v = parse(s) { return v }
        guard let b = birthDate.flatMap(ymd), let d = date.flatMap(ymd) else { return nil }
        var years = d.y - b.y
        if (d.m, d.d) < (b.m, b.d) { years -= 1 }
        return years >= 0 && years < 150 ? Double(years) : nil
    }

    /// "045Y" → 45, "006M" → 0.5, "010W" → 10/52.18, "003D" → 3/365.25. Digits only before the
    /// unit (an AS value is nnnD/W/M/Y): "infY", "-1Y" or "1e9Y" are not ages.
    public static func parse(_ s: String) -> Double? {
        let t = s.trimmingCharacters(in: .whitespaces).uppercased()
        let digits = t.dropLast()
        guard let unit = t.last, (1...4).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let n = Double(digits) else { return nil }
        switch unit {
        case "Y": return n
        case "M": return n / 12
        case "W": return n * 7 / 365.25
        case "D": return n / 365.25
        default: return nil
        }
    }

    private static func ymd(_ s: String) -> (y: Int, m: Int, d: Int)? {
        let digits = s.filter(\.isNumber)
        guard digits.count >= 8 else { return nil }
        let a = Array(digits)
        guard let y = Int(String(a[0..<4])), let m = Int(String(a[4..<6])), let d = Int(String(a[6..<8])),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        return (y, m, d)
    }
}
