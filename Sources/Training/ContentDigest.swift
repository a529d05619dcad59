import DICOM

/// SHA-256 of bytes (through the DICOM module's libcrypto binding).
enum ContentDigest {
    static func sha256(_ bytes: UnsafeRawBufferPointer) -> String { ContentHash.sha256(bytes) }
}
