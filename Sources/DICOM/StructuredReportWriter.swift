import CDCMTK
import Foundation

/// Writes DICOM Comprehensive SR documents (TID 1500 Measurement Report) with DCMTK's dcmsr:
/// per finding a measurement group with the coded finding, the algorithm (TID 4019), the decision
/// as a coded qualitative evaluation of the finding (e.g. Pneumonia = Present), the probabilities,
/// a reference to the source image and to its heatmap images; patient and study modules copied
/// from a source instance so that a PACS files it into the same study. The document's UIDs, series
/// number and private coding schemes come from the caller.
public enum StructuredReportWriter {
    /// A coded concept (value, coding scheme designator, meaning).
    public struct Code: Sendable, Equatable {
        public var value: String, scheme: String, meaning: String
        public init(_ value: String, _ scheme: String, _ meaning: String) {
            self.value = value; self.scheme = scheme; self.meaning = meaning
        }
    }

    /// A private coding scheme the document uses, identified in its Coding Scheme Identification Sequence.
    public struct CodingScheme: Sendable, Equatable {
        public var designator: String, name: String, organization: String
        public init(designator: String, name: String, organization: String) {
            self.designator = designator; self.name = name; self.organization = organization
        }
    }

    /// The document's own identity.
    public struct Document: Sendable {
        public var seriesInstanceUID: String
        public var sopInstanceUID: String
        public var seriesNumber: Int
        public var instanceNumber: Int
        public var deviceObserverUID: String
        public var procedure: Code
        public var softwareVersion: String
        public var privateSchemes: [CodingScheme]

        public init(seriesInstanceUID: String, sopInstanceUID: String, seriesNumber: Int, instanceNumber: Int,
                    deviceObserverUID: String, procedure: Code, softwareVersion: String, privateSchemes: [CodingScheme]) {
            self.seriesInstanceUID = seriesInstanceUID; self.sopInstanceUID = sopInstanceUID; self.seriesNumber = seriesNumber
            self.instanceNumber = instanceNumber; self.deviceObserverUID = deviceObserverUID; self.procedure = procedure
            self.softwareVersion = softwareVersion; self.privateSchemes = privateSchemes
        }
    }

    public struct Finding: Sendable {
        public var sopClassUID: String
        public var sopInstanceUID: String
        public var seriesInstanceUID: String
        public var head: String
        public var trackingUID: String
        public var finding: Code
        public var decision: Code
        public var probability: Double
        public var calibratedProbability: Double
        public var algorithmName: String
        public var algorithmVersion: String
        public var algorithmParameters: String
        /// Secondary Capture heatmaps of this finding (at most 2), all in `heatmapSeriesUID`.
        public var heatmapSOPInstanceUIDs: [String]
        public var heatmapSeriesUID: String

        public init(sopClassUID: String, sopInstanceUID: String, seriesInstanceUID: String, head: String, trackingUID: String,
                    finding: Code, decision: Code, probability: Double, calibratedProbability: Double, algorithmName: String,
                    algorithmVersion: String, algorithmParameters: String, heatmapSOPInstanceUIDs: [String] = [],
                    heatmapSeriesUID: String = "") {
            self.sopClassUID = sopClassUID; self.sopInstanceUID = sopInstanceUID; self.seriesInstanceUID = seriesInstanceUID
            self.head = head; self.trackingUID = trackingUID; self.finding = finding; self.decision = decision
            self.probability = probability; self.calibratedProbability = calibratedProbability
            self.algorithmName = algorithmName; self.algorithmVersion = algorithmVersion
            self.algorithmParameters = algorithmParameters; self.heatmapSOPInstanceUIDs = heatmapSOPInstanceUIDs
            self.heatmapSeriesUID = heatmapSeriesUID
        }
    }

    public static func write(to path: String, source: String, document: Document, findings: [Finding]) throws {
        // Keep every C string alive for the duration of the call.
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func c(_ s: String) -> UnsafePointer<CChar> {
            let p = strdup(s)!
            strings.append(p)
            return UnsafePointer(p)
        }
        let items = findings.map { f in
            let maps = Array(f.heatmapSOPInstanceUIDs.prefix(2))
            return dx_sr_finding(
                sop_class_uid: c(f.sopClassUID), sop_instance_uid: c(f.sopInstanceUID), series_instance_uid: c(f.seriesInstanceUID),
                head: c(f.head), tracking_uid: c(f.trackingUID), finding_code: c(f.finding.value),
                finding_scheme: c(f.finding.scheme), finding_meaning: c(f.finding.meaning), decision_code: c(f.decision.value),
                decision_scheme: c(f.decision.scheme), decision_meaning: c(f.decision.meaning), probability: f.probability,
                calibrated_probability: f.calibratedProbability, algorithm_name: c(f.algorithmName),
                algorithm_version: c(f.algorithmVersion), algorithm_parameters: c(f.algorithmParameters),
                heatmap_count: Int32(maps.count),
                heatmap_sop_instance_uid: (maps.count > 0 ? c(maps[0]) : nil, maps.count > 1 ? c(maps[1]) : nil),
                heatmap_series_instance_uid: c(f.heatmapSeriesUID))
        }
        let designators = document.privateSchemes.map { Optional(c($0.designator)) }
        let names = document.privateSchemes.map { Optional(c($0.name)) }
        let organizations = document.privateSchemes.map { Optional(c($0.organization)) }
        var err = [CChar](repeating: 0, count: 512)
        let ok = designators.withUnsafeBufferPointer { d in
            names.withUnsafeBufferPointer { n in
                organizations.withUnsafeBufferPointer { o in
                    var doc = dx_sr_document(
                        series_instance_uid: c(document.seriesInstanceUID), sop_instance_uid: c(document.sopInstanceUID),
                        series_number: Int32(document.seriesNumber), instance_number: Int32(document.instanceNumber),
                        device_observer_uid: c(document.deviceObserverUID), procedure_code: c(document.procedure.value),
                        procedure_scheme: c(document.procedure.scheme), procedure_meaning: c(document.procedure.meaning),
                        software_version: c(document.softwareVersion), scheme_count: Int32(document.privateSchemes.count),
                        scheme_designators: d.baseAddress, scheme_names: n.baseAddress, scheme_organizations: o.baseAddress)
                    return items.withUnsafeBufferPointer { buffer in
                        dx_write_sr(source, path, &doc, buffer.baseAddress, Int32(buffer.count), &err, err.count)
                    }
                }
            }
        }
        if ok == 0 { throw DicomError(.decode, file: path, reason: "cannot write the SR: \(String(cString: err))") }
    }
}
