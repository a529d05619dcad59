import CDCMTK
import Foundation

/// Writes an 8-bit RGB image (a heatmap overlay) as a DICOM Secondary Capture Image in the study of
/// a source instance (patient and study modules copied from it), derived from and naming that source
/// image, with the series and instance UIDs the caller derives.
public enum SecondaryCaptureWriter {
    public static let sopClassUID = "1.2.840.10008.5.1.4.1.1.7"

    /// What to write besides the pixels.
    public struct Identity: Sendable {
        public var seriesInstanceUID: String
        public var sopInstanceUID: String
        public var seriesNumber: Int
        public var instanceNumber: Int
        public var seriesDescription: String
        public var derivationDescription: String
        public var sourceSOPClassUID: String
        public var sourceSOPInstanceUID: String
        public var softwareVersion: String

        public init(seriesInstanceUID: String, sopInstanceUID: String, seriesNumber: Int, instanceNumber: Int,
                    seriesDescription: String, derivationDescription: String, sourceSOPClassUID: String,
                    sourceSOPInstanceUID: String, softwareVersion: String) {
            self.seriesInstanceUID = seriesInstanceUID; self.sopInstanceUID = sopInstanceUID; self.seriesNumber = seriesNumber
            self.instanceNumber = instanceNumber; self.seriesDescription = seriesDescription
            self.derivationDescription = derivationDescription; self.sourceSOPClassUID = sourceSOPClassUID
            self.sourceSOPInstanceUID = sourceSOPInstanceUID; self.softwareVersion = softwareVersion
        }
    }

    /// `rgb` holds width × height × 3 bytes, interleaved.
    public static func write(rgb: [UInt8], width: Int, height: Int, identity: Identity, source: String, to path: String) throws {
        guard rgb.count == width * height * 3 else {
            throw DicomError(.decode, file: path, reason: "pixel buffer of \(rgb.count) bytes for \(width)x\(height) RGB")
        }
        var err = [CChar](repeating: 0, count: 512)
        let ok = rgb.withUnsafeBufferPointer { pixels in
            source.withCString { src in
                path.withCString { out in
                    withCStringList([identity.seriesInstanceUID, identity.sopInstanceUID, identity.seriesDescription,
                                     identity.derivationDescription, identity.sourceSOPClassUID,
                                     identity.sourceSOPInstanceUID, identity.softwareVersion]) { s in
                        var image = dx_sc_image(source_path: src, out_path: out, rgb: pixels.baseAddress, width: Int32(width),
                                                height: Int32(height), series_instance_uid: s[0], sop_instance_uid: s[1],
                                                series_number: Int32(identity.seriesNumber),
                                                instance_number: Int32(identity.instanceNumber), series_description: s[2],
                                                derivation_description: s[3], source_sop_class_uid: s[4],
                                                source_sop_instance_uid: s[5], software_version: s[6])
                        return dx_write_secondary_capture(&image, &err, err.count)
                    }
                }
            }
        }
        if ok == 0 { throw DicomError(.decode, file: path, reason: "cannot write the heatmap image: \(String(cString: err))") }
    }

    private static func withCStringList<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>]) -> R) -> R {
        let copies = strings.map { strdup($0)! }
        defer { copies.forEach { free($0) } }
        return body(copies.map { UnsafePointer($0) })
    }
}
