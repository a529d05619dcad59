import Foundation

/// UIDs derived deterministically from names (PS3.5 B.2: `2.25.` and a UUID as a decimal integer):
/// the UUID is the first 128 bits of SHA-256 over the parts (each length-prefixed, so ("ab", "c")
/// and ("a", "bc") differ), marked as an RFC 9562 version-8 UUID. The same parts give the same UID
/// on every run and machine, so an object written again replaces its earlier copy in a PACS
/// instead of adding one beside it.
public enum DerivedUID {
    public static func make(_ parts: [String]) -> String {
        var bytes: [UInt8] = []
        for part in parts {
            let utf8 = Array(part.utf8)
            withUnsafeBytes(of: UInt64(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        let hex = bytes.withUnsafeBytes { ContentHash.sha256($0) }
        var uuid = stride(from: 0, to: 32, by: 2).map { i -> UInt8 in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
        uuid[6] = (uuid[6] & 0x0F) | 0x80   // version 8
        uuid[8] = (uuid[8] & 0x3F) | 0x80   // variant 10
        return "2.25." + decimal(uuid)
    }

    /// A big-endian unsigned integer in decimal (repeated division of base-256 digits by 10).
    static func decimal(_ bytes: [UInt8]) -> String {
        var number = bytes
        var digits: [Character] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for i in number.indices {
                let value = remainder * 256 + Int(number[i])
                number[i] = UInt8(value / 10)
                remainder = value % 10
            }
            digits.append(Character(String(remainder)))
        }
        return digits.isEmpty ? "0" : String(digits.reversed())
    }
}
