import Foundation

/// A DICOM application entity to talk to: `AE@HOST:PORT` (e.g. `ORTHANC@pacs.example.org:4242`).
public struct DicomPeer: Sendable, CustomStringConvertible, Equatable {
    public var aeTitle: String
    public var host: String
    public var port: Int

    public init(aeTitle: String, host: String, port: Int) {
        self.aeTitle = aeTitle
        self.host = host
        self.port = port
    }

    /// Parses `AE@HOST:PORT`; the AE title must be a valid one (1–16 characters, no backslash or
    /// control characters), the port 1–65535.
    public init(parsing text: String) throws {
        guard let at = text.firstIndex(of: "@"), let colon = text.lastIndex(of: ":"), at < colon else {
            throw NetworkError(file: text, reason: "expected AE@HOST:PORT")
        }
        let ae = String(text[..<at]), host = String(text[text.index(after: at)..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw NetworkError(file: text, reason: "the port must be a number from 1 to 65535")
        }
        try Self.checkAETitle(ae, in: text)
        guard !host.isEmpty else { throw NetworkError(file: text, reason: "no host") }
        self.init(aeTitle: ae, host: host, port: port)
    }

    public var description: String { "\(aeTitle)@\(host):\(port)" }

    /// An AE title is 1 to 16 characters of the default repertoire, no backslash, not all spaces.
    public static func checkAETitle(_ ae: String, in text: String) throws {
        let trimmed = ae.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, ae.utf8.count <= 16,
              ae.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7f && $0 != "\\" }) else {
            throw NetworkError(file: text, reason: "\"\(ae)\" is not an AE title (1-16 printable ASCII characters, no backslash)")
        }
    }
}

/// Who may open an association with the SCP: `AE` (from anywhere) or `AE@HOST` (from that host's
/// addresses only; names are resolved once, at start).
public struct AllowedCaller: Sendable, Equatable {
    public var aeTitle: String
    /// Numeric addresses the caller must come from; nil: any.
    public var addresses: [String]?

    public init(aeTitle: String, addresses: [String]?) {
        self.aeTitle = aeTitle
        self.addresses = addresses
    }

    public init(parsing text: String) throws {
        if let at = text.firstIndex(of: "@") {
            let ae = String(text[..<at]), host = String(text[text.index(after: at)...])
            try DicomPeer.checkAETitle(ae, in: text)
            let resolved = Self.resolve(host)
            guard !resolved.isEmpty else { throw NetworkError(file: text, reason: "cannot resolve the host \(host)") }
            self.init(aeTitle: ae, addresses: resolved)
        } else {
            try DicomPeer.checkAETitle(text, in: text)
            self.init(aeTitle: text, addresses: nil)
        }
    }

    /// Entries for the SCP: "AE" or "AE@address", one per address.
    var entries: [String] {
        guard let addresses else { return [aeTitle] }
        return addresses.map { "\(aeTitle)@\($0)" }
    }

    /// The numeric IPv4 and IPv6 addresses of a host name (or the address itself).
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(list) }
        var out: [String] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(n.pointee.ai_addr, n.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let address = String(cString: buffer)
                if !out.contains(address) { out.append(address) }
            }
            node = n.pointee.ai_next
        }
        return out
    }
}
