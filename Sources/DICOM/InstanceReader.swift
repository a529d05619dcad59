import Foundation

/// Reads one file for the index: parses the header and checks that any pixel data is
/// complete, so that a truncated file is reported at ingest rather than at scoring.
public enum InstanceReader {
    /// Extensions that declare a file DICOM, so a failure to parse it is an error, not a skip.
    static let dicomExtensions: Set<String> = ["dcm", "dicom", "dic", "ima"]

    public enum Verdict {
        case instance(Instance)
        /// Not DICOM and not claiming to be: skip it.
        case notDicom(String)
        /// A DICOMDIR (Media Storage Directory): an index of other files, not an instance.
        case directory
    }

    static let mediaStorageDirectory = "1.2.840.10008.1.3.10"

    public static func read(path: String) throws -> Verdict {
        let file: DicomFile
        do {
            file = try DicomFile(path: path)
        } catch let error as DicomError where error.kind == .notDicom {
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            if dicomExtensions.contains(ext) { throw error }
            return .notDicom(error.reason)
        }
        if file.string(.mediaStorageSOPClassUID) == mediaStorageDirectory || file.string(.sopClassUID) == mediaStorageDirectory {
            return .directory
        }
        let instance = try Instance(file: file)
        if instance.hasPixelData { try DicomImage(file: file).checkStructure() }
        return .instance(instance)
    }
}
