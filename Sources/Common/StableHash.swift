/// A 64-bit FNV-1a-style hash over UTF-8: the same bits for the same text on every run and machine
/// (unlike `hashValue`), for cache keys, seeds and name suffixes. Not cryptographic. The offset
/// basis is 1469598103934665603 — not FNV's published one, but what dxkit's report folder names,
/// feature caches and augmentation seeds have always used, so they stay as they were.
public enum StableHash {
    public static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(UInt64(1_469_598_103_934_665_603)) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 }
    }
}
