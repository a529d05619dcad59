import DICOM
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A DICOMweb client (PS3.18) for one server root such as `http://pacs:8042/dicom-web`: QIDO-RS
/// study search, WADO-RS study retrieval and STOW-RS storage. Credentials come from the
/// environment (`DICOMwebCredentials`). Responses are untrusted: sizes are bounded, multipart and
/// JSON bodies are checked, and a failure names the URL (never its credentials) and the reason.
///
/// HTTP is Foundation's URLSession (libcurl on Linux), part of the Swift toolchain: no extra
/// package to build, and the requests are plain request/response (a study streamed to a file).
public final class DICOMwebClient {
    public let root: URL
    let authorization: String?
    let http: HTTPTransport

    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                timeout: TimeInterval = 120) throws {
        guard var components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", components.host?.isEmpty == false else {
            throw NetworkError(file: url, reason: "expected an http:// or https:// URL of the DICOMweb root")
        }
        if components.user != nil || components.password != nil {
            throw NetworkError(file: "--dicomweb", reason: "credentials in the URL are refused; set \(DICOMwebCredentials.tokenVariable) or \(DICOMwebCredentials.userVariable)/\(DICOMwebCredentials.passwordVariable) instead")
        }
        while components.path.hasSuffix("/") { components.path.removeLast() }
        root = components.url!
        authorization = try DICOMwebCredentials.authorization(environment)
        http = HTTPTransport(timeout: timeout)
    }

    public var description: String { HTTPTransport.redacted(root) }

    func request(_ path: String, query: [URLQueryItem] = [], method: String = "GET") -> URLRequest {
        var c = URLComponents(url: root, resolvingAgainstBaseURL: false)!
        c.path += path
        if !query.isEmpty { c.queryItems = query }
        var r = URLRequest(url: c.url!)
        r.httpMethod = method
        if let authorization { r.setValue(authorization, forHTTPHeaderField: "Authorization") }
        return r
    }

    func check(_ response: HTTPTransport.Response, _ request: URLRequest, accept: Set<Int> = [200]) throws {
        guard accept.contains(response.status) else {
            let hint = response.status == 401 || response.status == 403
                ? " (set \(DICOMwebCredentials.tokenVariable) or \(DICOMwebCredentials.userVariable)/\(DICOMwebCredentials.passwordVariable))" : ""
            throw NetworkError(file: HTTPTransport.redacted(request.url!), reason: "HTTP \(response.status)\(hint)")
        }
    }

    /// QIDO-RS: `GET {root}/studies?…` with the query's keys.
    public func searchStudies(_ query: StudyQuery, limit: Int = 10_000) throws -> [StudyMatch] {
        var items = [URLQueryItem(name: "includefield", value: "00081030,00201206,00201208,00080061"),
                     URLQueryItem(name: "limit", value: String(limit))]
        if let v = query.patientID { items.append(URLQueryItem(name: "PatientID", value: v)) }
        if let v = query.studyDate { items.append(URLQueryItem(name: "StudyDate", value: v)) }
        if let v = query.modality { items.append(URLQueryItem(name: "ModalitiesInStudy", value: v)) }
        if let v = query.studyInstanceUID { items.append(URLQueryItem(name: "StudyInstanceUID", value: v)) }
        if let v = query.accessionNumber { items.append(URLQueryItem(name: "AccessionNumber", value: v)) }
        var r = request("/studies", query: items)
        r.setValue("application/dicom+json", forHTTPHeaderField: "Accept")
        let response = try http.send(r)
        if response.status == 204 { return [] }
        try check(response, r)
        return try DicomJSON.datasets(response.body, source: HTTPTransport.redacted(r.url!)).compactMap { d in
            guard let uid = d.string("0020000D") else { return nil }
            return StudyMatch(studyInstanceUID: uid, studyDate: d.string("00080020"), studyTime: d.string("00080030"),
                              accessionNumber: d.string("00080050"), patientID: d.string("00100020"),
                              modalities: d.strings("00080061"), studyDescription: d.string("00081030"),
                              series: d.int("00201206"), instances: d.int("00201208"))
        }
    }

    /// WADO-RS: `GET {root}/studies/{uid}` as multipart/related application/dicom, streamed to a
    /// file, split into one file per instance under `directory` (named by their content's SHA-256,
    /// so fetching twice writes nothing new). Returns the files written.
    public func retrieveStudy(_ studyInstanceUID: String, into directory: String) throws -> [String] {
        guard studyInstanceUID.range(of: #"^[0-9.]{1,64}$"#, options: .regularExpression) != nil else {
            throw NetworkError(file: studyInstanceUID, reason: "not a UID")
        }
        var r = request("/studies/\(studyInstanceUID)")
        r.setValue("multipart/related; type=\"application/dicom\"; transfer-syntax=*", forHTTPHeaderField: "Accept")
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let download = URL(fileURLWithPath: directory).appendingPathComponent(".wado-\(getpid())-\(UUID().uuidString).part")
        defer { try? fm.removeItem(at: download) }
        var response = try http.download(r, to: download)
        if response.status == 406 || response.status == 400 {
            // A server that does not take transfer-syntax=* gets the plain request.
            r.setValue("multipart/related; type=\"application/dicom\"", forHTTPHeaderField: "Accept")
            response = try http.download(r, to: download)
        }
        try check(response, r)
        let source = HTTPTransport.redacted(r.url!)
        guard let type = response.header("Content-Type"), type.lowercased().hasPrefix("multipart/related"),
              let boundary = Multipart.boundary(contentType: type) else {
            throw NetworkError(file: source, reason: "expected a multipart/related response, got \(response.header("Content-Type") ?? "no Content-Type")")
        }
        let data = try Data(contentsOf: download, options: .alwaysMapped)
        var written: [String] = []
        for part in try Multipart.parts(data, boundary: boundary, source: source) {
            if let t = part.headers["content-type"], !t.lowercased().hasPrefix("application/dicom") {
                throw NetworkError(file: source, reason: "a part is \(t), not application/dicom")
            }
            let body = data[part.body]
            let hash = body.withUnsafeBytes { ContentHash.sha256($0) }
            let path = "\(directory)/\(hash.prefix(32)).dcm"
            if !fm.fileExists(atPath: path) {
                let temporary = path + ".part"
                try body.write(to: URL(fileURLWithPath: temporary))
                _ = try? fm.removeItem(atPath: path)
                try fm.moveItem(atPath: temporary, toPath: path)
            }
            written.append(path)
        }
        return written
    }

    /// STOW-RS: `POST {root}/studies` with the files as one multipart/related body per batch of at
    /// most `batchBytes`. One outcome per file, from the server's Referenced/Failed SOP Sequences.
    public func store(_ paths: [String], batchBytes: Int = 256 << 20) throws -> [SendOutcome] {
        var outcomes: [SendOutcome] = []
        var batch: [String] = [], size = 0
        func flush() throws {
            guard !batch.isEmpty else { return }
            outcomes += try storeBatch(batch)
            batch = []
            size = 0
        }
        for path in paths {
            let bytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
            if size + bytes > batchBytes { try flush() }
            batch.append(path)
            size += bytes
        }
        try flush()
        return outcomes
    }

    /// One STOW-RS request; outcomes in the order of `paths`.
    private func storeBatch(_ paths: [String]) throws -> [SendOutcome] {
        let uids = paths.map { (try? DicomFile(path: $0, maxReadLength: 256))?.string(.sopInstanceUID) ?? "" }
        let readable = zip(paths, uids).filter { !$0.1.isEmpty }.map(\.0)
        var referenced: Set<String> = [], failed: [String: Int] = [:]
        var status = 0, source = description
        if !readable.isEmpty {
            let boundary = "dxkit-" + UUID().uuidString
            let body = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("dxkit-stow-\(UUID().uuidString).body")
            defer { try? FileManager.default.removeItem(at: body) }
            _ = try Multipart.writeBody(files: readable, boundary: boundary, to: body)
            var r = request("/studies", method: "POST")
            r.setValue("multipart/related; type=\"application/dicom\"; boundary=\(boundary)", forHTTPHeaderField: "Content-Type")
            r.setValue("application/dicom+json", forHTTPHeaderField: "Accept")
            let response = try http.send(r, bodyFile: body)
            try check(response, r, accept: [200, 202, 409])
            source = HTTPTransport.redacted(r.url!)
            status = response.status
            let answer = try DicomJSON.datasets(response.body, source: source).first
            referenced = Set(answer?.sequence("00081199").compactMap { $0.string("00081155") } ?? [])
            for item in answer?.sequence("00081198") ?? [] {
                if let uid = item.string("00081155") { failed[uid] = item.int("00081197") ?? 0 }
            }
        }
        return zip(paths, uids).map { path, uid in
            if uid.isEmpty {
                return SendOutcome(path: path, sopInstanceUID: "", sent: false, status: 0, transferSyntax: "",
                                   message: "not a readable DICOM file")
            }
            if referenced.contains(uid) {
                return SendOutcome(path: path, sopInstanceUID: uid, sent: true, status: status, transferSyntax: "", message: "")
            }
            let reason = failed[uid].map { String(format: "failure reason 0x%04X", $0) } ?? "not among the stored instances"
            return SendOutcome(path: path, sopInstanceUID: uid, sent: false, status: status, transferSyntax: "",
                               message: "\(source) (HTTP \(status)): \(reason)")
        }
    }
}
