import Foundation

/// How dxkit authenticates to a DICOMweb server: only from the environment, never from the command
/// line (where `ps` and shell histories would show it). `DXKIT_DICOMWEB_TOKEN` sends
/// `Authorization: Bearer <token>`; `DXKIT_DICOMWEB_USER` and `DXKIT_DICOMWEB_PASSWORD` send basic
/// authentication. A URL with user information (`http://user:pw@host/…`) is refused.
public enum DICOMwebCredentials {
    public static let tokenVariable = "DXKIT_DICOMWEB_TOKEN"
    public static let userVariable = "DXKIT_DICOMWEB_USER"
    public static let passwordVariable = "DXKIT_DICOMWEB_PASSWORD"

    /// The Authorization header value the environment asks for, nil for none.
    public static func authorization(_ environment: [String: String]) throws -> String? {
        if let token = environment[tokenVariable], !token.isEmpty {
            guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw NetworkError(file: tokenVariable, reason: "the token holds spaces or control characters")
            }
            return "Bearer \(token)"
        }
        if let user = environment[userVariable], !user.isEmpty {
            guard !user.contains(":") else { throw NetworkError(file: userVariable, reason: "a user name cannot hold ':'") }
            let password = environment[passwordVariable] ?? ""
            return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        }
        return nil
    }
}
