import Common
import Foundation

/// File-name-safe text from untrusted DICOM values: letters, digits, '.', '-', '_' only, no
/// leading dot, never empty, at most 120 characters (a hash keeps long or altered names unique).
public enum SafeName {
    public static func file(_ text: String) -> String {
        var s = String(text.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) ? Character($0) : "_" })
        while s.hasPrefix(".") { s.removeFirst() }
        if s.isEmpty || s != text || s.count > 120 {
            let digest = StableHash.fnv1a(text)
            s = String(s.prefix(100)) + "_" + String(digest, radix: 16)
        }
        return s
    }
}
