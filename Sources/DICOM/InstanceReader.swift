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

    /// Throws a `DicomError` for a file that claims to be DICOM but is broken: unparsable, no SOP
    /// Instance UID, pixel data shorter than its attributes say or above `limits`, non-finite
    /// rescale or window values, or image attributes (Rows, Columns) without any Pixel Data — the
    /// mark of a file cut off between elements, which would otherwise pass as a pixel-less object.
    public static func read(path: String, limits: DecodeLimits = .standard) throws -> Verdict {
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
        try check(file, instance, limits: limits)
        return .instance(instance)
    }

    /// The structural checks `read` makes on a parsed instance (see there); `inspect` makes the same.
    public static func check(_ file: DicomFile, _ instance: Instance, limits: DecodeLimits = .standard) throws {
        if instance.hasPixelData {
            try DicomImage(file: file, limits: limits).checkStructure()
        } else if file[.rows] != nil || file[.columns] != nil || file[.bitsAllocated] != nil,
                  file[Tag(0x7FE0, 0x0008)] == nil, file[Tag(0x7FE0, 0x0009)] == nil {  // (Double) Float Pixel Data
            throw DicomError(.decode, file: file.path,
                             reason: "image attributes (Rows, Columns, Bits Allocated) but no Pixel Data (7FE0,0010): truncated?")
        }
    }
}
