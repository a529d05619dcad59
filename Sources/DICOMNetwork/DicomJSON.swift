import Foundation

/// Reading the DICOM JSON model (PS3.18 F.2) that QIDO-RS and STOW-RS answer with: an object per
/// dataset, keyed by 8-hex-digit tags, each `{"vr": …, "Value": [...]}`. Values of the wrong type
/// read as nil.
struct DicomJSON {
    let object: [String: Any]

    static func datasets(_ data: Data, source: String) throws -> [DicomJSON] {
        if data.isEmpty { return [] }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw NetworkError(file: source, reason: "the response is not JSON: \(error.localizedDescription)")
        }
        if let list = parsed as? [[String: Any]] { return list.map(DicomJSON.init) }
        if let one = parsed as? [String: Any] { return [DicomJSON(object: one)] }
        throw NetworkError(file: source, reason: "the response is not a DICOM JSON dataset or array")
    }

    private func values(_ tag: String) -> [Any] {
        ((object[tag] as? [String: Any])?["Value"] as? [Any]) ?? []
    }

    func strings(_ tag: String) -> [String] {
        values(tag).compactMap { v in
            if let s = v as? String { return s }
            if let n = v as? NSNumber { return n.stringValue }
            if let pn = v as? [String: Any] { return pn["Alphabetic"] as? String }
            return nil
        }
    }

    func string(_ tag: String) -> String? { strings(tag).first.flatMap { $0.isEmpty ? nil : $0 } }

    func int(_ tag: String) -> Int? {
        guard let v = values(tag).first else { return nil }
        if let n = v as? NSNumber { let d = n.doubleValue; return d.isFinite && abs(d) < 1e15 ? Int(d) : nil }
        if let s = v as? String { return Int(s.trimmingCharacters(in: .whitespaces)) }
        return nil
    }

    func sequence(_ tag: String) -> [DicomJSON] {
        values(tag).compactMap { $0 as? [String: Any] }.map(DicomJSON.init)
    }
}
