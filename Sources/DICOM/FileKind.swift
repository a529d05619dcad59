import Foundation

/// What a path names on disk, without opening it: only regular files are ever read, so a FIFO,
/// a device (`/dev/zero`) or a socket cannot hang or flood a batch. Symbolic links are followed.
public enum FileKind {
    case regular(size: Int64)
    case directory
    case other(String)
    case missing

    /// Follows symbolic links (`stat`, not `lstat`).
    public static func of(_ path: String) -> FileKind {
        var st = stat()
        guard stat(path, &st) == 0 else { return .missing }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int64(st.st_size))
        case S_IFDIR: return .directory
        case S_IFIFO: return .other("a FIFO (named pipe)")
        case S_IFCHR: return .other("a character device")
        case S_IFBLK: return .other("a block device")
        case S_IFSOCK: return .other("a socket")
        default: return .other("not a regular file")
        }
    }

    /// Throws a `DicomError` naming the file unless it is a regular file.
    public static func requireRegularFile(_ path: String) throws {
        switch of(path) {
        case .regular: return
        case .missing: throw DicomError(.unreadable, file: path, reason: "no such file")
        case .directory: throw DicomError(.unreadable, file: path, reason: "is a directory")
        case let .other(what): throw DicomError(.unreadable, file: path, reason: "is \(what), not a regular file")
        }
    }
}
