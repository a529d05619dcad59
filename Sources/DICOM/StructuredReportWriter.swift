import CDCMTK
import Foundation

/// Writes DICOM Comprehensive SR documents (TID 1500 Measurement Report) with DCMTK's dcmsr:
/// per finding a measurement group with the coded finding, the algorithm (TID 4019), the decision
/// as a qualitative evaluation, the probabilities and a reference to the source image; patient
/// and study modules copied from a source instance so that a PACS files it into the same study.
public enum StructuredReportWriter {
    public struct Code: Sendable {
        public var value: String, scheme: String, meaning: String
        public init(_ value: String, _ scheme: String, _ meaning: String) {
            self.value = value; self.scheme = scheme; self.meaning = meaning
        }
    }

    public struct Finding: Sendable {
        public var sopClassUID: String
        public var sopInstanceUID: String
        public var seriesInstanceUID: String
        public var head: String
        public var finding: Code
        public var probability: Double
        public var calibratedProbability: Double
        public var positive: Bool
        public var algorithmName: String
        public var algorithmVersion: String
        public var algorithmParameters: String

        public init(sopClassUID: String, sopInstanceUID: String, seriesInstanceUID: String, head: String, finding: Code,
                    probability: Double, calibratedProbability: Double, positive: Bool, algorithmName: String,
                    algorithmVersion: String, algorithmParameters: String) {
            self.sopClassUID = sopClassUID; self.sopInstanceUID = sopInstanceUID; self.seriesInstanceUID = seriesInstanceUID
            self.head = head; self.finding = finding; self.probability = probability
            self.calibratedProbability = calibratedProbability; self.positive = positive; self.algorithmName = algorithmName
            self.algorithmVersion = algorithmVersion; self.algorithmParameters = algorithmParameters
        }
    }

    public static func write(to path: String, source: String, findings: [Finding], procedure: Code, softwareVersion: String) throws {
        // Keep every C string alive for the duration of the call.
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func c(_ s: String) -> UnsafePointer<CChar> {
            let p = strdup(s)!
            strings.append(p)
            return UnsafePointer(p)
        }
        let items = findings.map { f in
            dx_sr_finding(sop_class_uid: c(f.sopClassUID), sop_instance_uid: c(f.sopInstanceUID),
                          series_instance_uid: c(f.seriesInstanceUID), head: c(f.head), finding_code: c(f.finding.value),
                          finding_scheme: c(f.finding.scheme), finding_meaning: c(f.finding.meaning),
                          probability: f.probability, calibrated_probability: f.calibratedProbability,
                          positive: f.positive ? 1 : 0, algorithm_name: c(f.algorithmName),
                          algorithm_version: c(f.algorithmVersion), algorithm_parameters: c(f.algorithmParameters))
        }
        var err = [CChar](repeating: 0, count: 512)
        let ok = items.withUnsafeBufferPointer { buffer in
            dx_write_sr(source, path, buffer.baseAddress, Int32(buffer.count), procedure.value, procedure.scheme,
                        procedure.meaning, softwareVersion, &err, err.count)
        }
        if ok == 0 { throw DicomError(.decode, file: path, reason: "cannot write the SR: \(String(cString: err))") }
    }
}
