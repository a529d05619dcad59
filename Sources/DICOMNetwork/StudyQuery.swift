import Foundation

/// Study-level query keys shared by C-FIND and QIDO-RS (nil: any).
public struct StudyQuery: Sendable {
    public var patientID: String?
    /// `YYYYMMDD` or a range `YYYYMMDD-YYYYMMDD` (either end may be open).
    public var studyDate: String?
    /// Matched against Modalities in Study.
    public var modality: String?
    public var studyInstanceUID: String?
    public var accessionNumber: String?

    public init(patientID: String? = nil, studyDate: String? = nil, modality: String? = nil,
                studyInstanceUID: String? = nil, accessionNumber: String? = nil) {
        self.patientID = patientID
        self.studyDate = studyDate
        self.modality = modality
        self.studyInstanceUID = studyInstanceUID
        self.accessionNumber = accessionNumber
    }

    /// Refuses keys that are not what they claim (a date that is not a date or range, wildcards or
    /// backslashes in a UID), naming the key.
    public func validate() throws {
        if let d = studyDate {
            let ok = d.range(of: #"^(\d{8})?(-(\d{8})?)?$"#, options: .regularExpression) != nil && d != "-" && !d.isEmpty
            if !ok { throw NetworkError(file: "--date \(d)", reason: "expected YYYYMMDD or YYYYMMDD-YYYYMMDD") }
        }
        if let u = studyInstanceUID, u.range(of: #"^[0-9.]{1,64}$"#, options: .regularExpression) == nil {
            throw NetworkError(file: "--study-uid \(u)", reason: "not a UID (digits and dots, at most 64 characters)")
        }
        for (name, value) in [("--modality", modality), ("--patient-id", patientID), ("--accession", accessionNumber)] {
            if let value, value.contains("\\") || value.unicodeScalars.contains(where: { $0.value < 0x20 }) {
                throw NetworkError(file: "\(name) \(value)", reason: "backslashes and control characters are not allowed")
            }
        }
    }
}

/// One study a query found (what C-FIND or QIDO-RS returned for it).
public struct StudyMatch: Sendable, Codable, Equatable {
    public var studyInstanceUID: String
    public var studyDate: String?
    public var studyTime: String?
    public var accessionNumber: String?
    public var patientID: String?
    public var modalities: [String]
    public var studyDescription: String?
    public var series: Int?
    public var instances: Int?

    enum CodingKeys: String, CodingKey {
        case studyInstanceUID = "study_instance_uid", studyDate = "study_date", studyTime = "study_time"
        case accessionNumber = "accession_number", patientID = "patient_id", modalities
        case studyDescription = "study_description", series, instances
    }
}
