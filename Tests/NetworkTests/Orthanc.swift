import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// Debian's Orthanc (with its DICOMweb plugin) on loopback, started for the tests with a config
/// written to a temporary folder (a test user for HTTP, our AE titles as DICOM modalities) and
/// stopped afterwards.
final class Orthanc {
    static let user = "dxtest", password = "not-a-real-secret"
    let folder: String
    let httpPort: Int, dicomPort: Int
    let process = Process()

    /// `modalities`: AE title → port on 127.0.0.1 (move destinations, senders).
    init(modalities: [String: Int]) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/Orthanc") else {
            XCTFail("Orthanc is not installed: run `make setup` (apt packages orthanc orthanc-dicomweb)")
            throw XCTSkip("no Orthanc")
        }
        let plugin = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/orthanc"))?
            .first { $0.hasPrefix("libOrthancDicomWeb.so") }
        guard let plugin else {
            XCTFail("the Orthanc DICOMweb plugin is not installed: run `make setup` (orthanc-dicomweb)")
            throw XCTSkip("no DICOMweb plugin")
        }
        folder = try Tools.temporaryFolder("orthanc")
        httpPort = Tools.freePort()
        dicomPort = Tools.freePort()
        var dicomModalities: [String: [Any]] = [:]
        for (ae, port) in modalities { dicomModalities[ae.lowercased()] = [ae, "127.0.0.1", port] }
        let config: [String: Any] = [
            "Name": "dxkit-test", "StorageDirectory": "\(folder)/db", "IndexDirectory": "\(folder)/db",
            "HttpPort": httpPort, "DicomPort": dicomPort, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
            "AuthenticationEnabled": true, "RegisteredUsers": [Self.user: Self.password],
            "Plugins": ["/usr/lib/orthanc/\(plugin)"], "DicomWeb": ["Enable": true, "Root": "/dicom-web/"],
            "DicomModalities": dicomModalities, "DicomAlwaysAllowStore": true, "DicomCheckCalledAet": false,
            "StorageCompression": false, "HttpDescribeErrors": true,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: "\(folder)/config.json"))
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/Orthanc")
        process.arguments = ["\(folder)/config.json"]
        let log = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: "\(folder)/log.txt", contents: nil); return "\(folder)/log.txt" }())!
        process.standardOutput = log
        process.standardError = log
        try process.run()
        Tools.waitUntil("Orthanc answering on port \(httpPort)", limit: 60) { (try? get("/system")) != nil || !process.isRunning }
    }

    var peer: String { "ORTHANC@127.0.0.1:\(dicomPort)" }
    var dicomweb: String { "http://127.0.0.1:\(httpPort)/dicom-web" }
    var credentials: [String: String] { ["DXKIT_DICOMWEB_USER": Self.user, "DXKIT_DICOMWEB_PASSWORD": Self.password] }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// A REST call with the test user; the decoded JSON.
    func request(_ path: String, method: String = "GET", body: Data? = nil) throws -> Any {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(httpPort)\(path)")!)
        r.httpMethod = method
        r.httpBody = body
        r.setValue("Basic " + Data("\(Self.user):\(Self.password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Data?, Int) = (nil, 0)
        URLSession.shared.dataTask(with: r) { data, response, _ in
            result = (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + 30) == .success, result.1 == 200, let data = result.0 else {
            throw NSError(domain: "orthanc", code: result.1, userInfo: [NSLocalizedDescriptionKey: "\(method) \(path): HTTP \(result.1)"])
        }
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }

    func get(_ path: String) throws -> Any { try request(path) }

    /// The series of a study (by Study Instance UID): modality, series number, instance count, SOP UIDs.
    struct Series {
        var modality: String
        var number: String
        var sopInstanceUIDs: [String]
    }

    func series(ofStudy uid: String) throws -> [Series] {
        let found = try request("/tools/lookup", method: "POST", body: Data(uid.utf8)) as? [[String: Any]] ?? []
        guard let id = found.first(where: { $0["Type"] as? String == "Study" })?["ID"] as? String else { return [] }
        let list = try get("/studies/\(id)/series?expand") as? [[String: Any]] ?? []
        return try list.map { s in
            let tags = s["MainDicomTags"] as? [String: Any] ?? [:]
            let instances = try get("/series/\(s["ID"] as! String)/instances") as? [[String: Any]] ?? []
            return Series(modality: tags["Modality"] as? String ?? "", number: tags["SeriesNumber"] as? String ?? "",
                          sopInstanceUIDs: instances.compactMap { ($0["MainDicomTags"] as? [String: Any])?["SOPInstanceUID"] as? String })
        }
    }

    /// Whether Orthanc holds an instance with this SOP Instance UID.
    func has(instance uid: String) throws -> Bool {
        let found = try request("/tools/lookup", method: "POST", body: Data(uid.utf8)) as? [[String: Any]] ?? []
        return found.contains { $0["Type"] as? String == "Instance" }
    }
}
