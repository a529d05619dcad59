import Foundation

/// One writer at a time per database: `ingest`, `score` and `run` hold an exclusive lock on
/// `<db>.lock` (flock(2), which the kernel releases when the holder dies, even by kill -9, so a
/// lock is never stale) for as long as they write. A second writer is refused at once with the
/// holder's pid, instead of both scoring everything or one marking the other's live run as
/// interrupted. Within one process the lock is shared: `run` holds it across ingest and score.
public final class DatabaseLock {
    public let path: String
    private let fd: Int32

    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var held: [String: (lock: DatabaseLock, count: Int)] = [:]

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock of `database` (or shares it when this process already holds it).
    /// Throws a `StoreError` naming the holder when another process holds it.
    public static func acquire(database: String) throws -> DatabaseLock {
        let path = URL(fileURLWithPath: database).standardizedFileURL.path + ".lock"
        registryLock.lock()
        defer { registryLock.unlock() }
        if let entry = held[path] {
            held[path] = (entry.lock, entry.count + 1)
            return entry.lock
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StoreError(file: database, reason: "cannot create the lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = pread(fd, &buffer, buffer.count - 1, 0)
            close(fd)
            let holder = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            throw StoreError(file: database, reason: "another dxkit process (pid \(holder)) is writing to this database; wait for it to finish or stop it")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        let lock = DatabaseLock(path: path, fd: fd)
        held[path] = (lock, 1)
        return lock
    }

    /// Gives the lock back (the last holder in this process releases it).
    public func release() {
        Self.registryLock.lock()
        defer { Self.registryLock.unlock() }
        guard let entry = Self.held[path] else { return }
        if entry.count > 1 {
            Self.held[path] = (entry.lock, entry.count - 1)
            return
        }
        Self.held[path] = nil
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
