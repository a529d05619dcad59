import DICOMNetwork
import Foundation

/// A PACS as dxkit reaches it: by DIMSE (an AE at host:port, with our calling AE title) or by
/// DICOMweb (a server root URL, credentials from the environment).
public enum NetworkEndpoint {
    case dimse(DimseClient)
    case dicomweb(DICOMwebClient)

    /// `AE@HOST:PORT` or nil, `--dicomweb URL` or nil: exactly one must be given.
    public static func make(peer: String?, dicomweb: String?, aeTitle: String, option: String) throws -> NetworkEndpoint {
        switch (peer, dicomweb) {
        case let (p?, nil): return .dimse(try DimseClient(peer: DicomPeer(parsing: p), aeTitle: aeTitle))
        case let (nil, url?): return .dicomweb(try DICOMwebClient(url: url))
        case (nil, nil): throw NetworkError(file: option, reason: "give \(option) AE@HOST:PORT or --dicomweb URL")
        default: throw NetworkError(file: option, reason: "give either \(option) or --dicomweb, not both")
        }
    }

    /// How logs and the index name it.
    public var name: String {
        switch self {
        case let .dimse(c): return c.peer.description
        case let .dicomweb(c): return c.description
        }
    }

    /// Sends files: C-STORE on one association per batch, or STOW-RS.
    public func send(_ paths: [String]) throws -> [SendOutcome] {
        switch self {
        case let .dimse(c): return try c.send(paths)
        case let .dicomweb(c): return try c.store(paths)
        }
    }

    /// Study-level search: C-FIND or QIDO-RS.
    public func findStudies(_ query: StudyQuery) throws -> [StudyMatch] {
        try query.validate()
        switch self {
        case let .dimse(c): return try c.findStudies(query)
        case let .dicomweb(c): return try c.searchStudies(query)
        }
    }
}
