/// A failure to read or decode one DICOM file. Always names the file and the reason,
/// so a batch can record it against that file and go on.
public struct DicomError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case unreadable      // the file system refused (missing, permissions, directory)
        case notDicom        // not a DICOM file at all
        case parse           // DCMTK could not parse the dataset
        case missingAttribute
        case unsupported     // a transfer syntax or pixel layout we do not decode
        case decode          // the pixel data could not be decoded
    }

    public let kind: Kind
    public let file: String
    public let reason: String

    public init(_ kind: Kind, file: String, reason: String) {
        self.kind = kind
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
