import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Synchronous HTTP/1.1 over Foundation's URLSession (libcurl underneath on Linux): a request's
/// body from memory or a file, the response into memory (bounded) or a file. Every wait is bounded
/// by the timeout. Used by `DICOMwebClient`; no other HTTP client is needed for QIDO/WADO/STOW.
final class HTTPTransport {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
        /// When the body went to a file instead (`download`).
        var file: URL?

        func header(_ name: String) -> String? {
            headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    let session: URLSession
    let timeout: TimeInterval
    private let refuser = ChallengeRefuser()

    /// Answers an authentication challenge (HTTP 401) by refusing it: credentials are only ever the
    /// ones dxkit sent with the request. (Left to its default handling, Foundation on Linux waits
    /// for a credential that never comes.) The task then ends as cancelled, reported as HTTP 401.
    private final class ChallengeRefuser: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        private let lock = NSLock()
        private var challenged = false

        func urlSession(_ session: URLSession, task: URLSessionTask, didReceive challenge: URLAuthenticationChallenge,
                        completionHandler: @escaping (URLSession.AuthChallengeDisposition, URLCredential?) -> Void) {
            lock.lock()
            challenged = true
            lock.unlock()
            completionHandler(.rejectProtectionSpace, nil)
        }

        /// Whether a challenge came since the last call.
        func take() -> Bool {
            lock.lock()
            defer { challenged = false; lock.unlock() }
            return challenged
        }
    }

    init(timeout: TimeInterval) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = max(timeout, 3600)
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        session = URLSession(configuration: configuration, delegate: refuser, delegateQueue: nil)
        self.timeout = timeout
    }

    deinit { session.finishTasksAndInvalidate() }

    private final class Box: @unchecked Sendable {
        var data: Data?
        var file: URL?
        var response: URLResponse?
        var error: Error?
    }

    private func finish(_ box: Box, url: URL) throws -> Response {
        if refuser.take() {
            throw NetworkError(file: Self.redacted(url), reason: "HTTP 401: the server asks for authentication (set \(DICOMwebCredentials.tokenVariable), or \(DICOMwebCredentials.userVariable) and \(DICOMwebCredentials.passwordVariable); wrong ones are refused the same way)")
        }
        if let error = box.error {
            throw NetworkError(file: Self.redacted(url), reason: "HTTP request failed: \(error.localizedDescription)")
        }
        guard let http = box.response as? HTTPURLResponse else {
            throw NetworkError(file: Self.redacted(url), reason: "no HTTP response")
        }
        var headers: [String: String] = [:]
        for (k, v) in http.allHeaderFields { headers["\(k)"] = "\(v)" }
        return Response(status: http.statusCode, headers: headers, body: box.data ?? Data(), file: box.file)
    }

    /// Sends `request` (body from `bodyFile` when given) and reads the response into memory, refusing
    /// more than `limit` bytes.
    func send(_ request: URLRequest, bodyFile: URL? = nil, limit: Int = 64 << 20) throws -> Response {
        let box = Box(), done = DispatchSemaphore(value: 0)
        let handler: @Sendable (Data?, URLResponse?, Error?) -> Void = { data, response, error in
            box.data = data
            box.response = response
            box.error = error
            done.signal()
        }
        let task = bodyFile.map { session.uploadTask(with: request, fromFile: $0, completionHandler: handler) }
            ?? session.dataTask(with: request, completionHandler: handler)
        task.resume()
        done.wait()
        let response = try finish(box, url: request.url!)
        if response.body.count > limit {
            throw NetworkError(file: Self.redacted(request.url!), reason: "response larger than \(limit) bytes")
        }
        return response
    }

    /// Sends `request` and streams the response body to a temporary file (moved to `destination`).
    func download(_ request: URLRequest, to destination: URL) throws -> Response {
        let box = Box(), done = DispatchSemaphore(value: 0)
        let task = session.downloadTask(with: request) { file, response, error in
            box.response = response
            box.error = error
            if let file {
                do {
                    try? FileManager.default.removeItem(at: destination)
                    try FileManager.default.moveItem(at: file, to: destination)
                    box.file = destination
                } catch {
                    box.error = error
                }
            }
            done.signal()
        }
        task.resume()
        done.wait()
        return try finish(box, url: request.url!)
    }

    /// The URL as it may be printed: without user information or query values that could be secret.
    static func redacted(_ url: URL) -> String {
        guard var c = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return "(url)" }
        c.user = nil
        c.password = nil
        return c.string ?? "(url)"
    }
}
