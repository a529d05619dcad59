import CCrypto
import Foundation

/// SHA-256 digests (OpenSSL's libcrypto), as lowercase hex.
public enum ContentHash {
    /// Digest of a file's bytes, read in 1 MiB chunks.
    public static func sha256(file path: String) throws -> String {
        try FileKind.requireRegularFile(path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DicomError(.unreadable, file: path, reason: "cannot open for reading")
        }
        defer { try? handle.close() }
        guard let ctx = EVP_MD_CTX_new() else { throw DicomError(.unreadable, file: path, reason: "no digest context") }
        defer { EVP_MD_CTX_free(ctx) }
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw DicomError(.unreadable, file: path, reason: "read failed: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            chunk.withUnsafeBytes { _ = EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) }
        }
        return finish(ctx)
    }

    /// Digest of bytes in memory.
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> String {
        let ctx = EVP_MD_CTX_new()!
        defer { EVP_MD_CTX_free(ctx) }
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
        return finish(ctx)
    }

    private static func finish(_ ctx: OpaquePointer) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &digest, &length)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}
