import Foundation

/// Finds the files to ingest under the given paths. Folders are walked recursively in a stable
/// (sorted) order, hidden entries skipped. Guarantees:
/// - only regular files are returned: FIFOs, devices and sockets are skipped with a reason, so
///   nothing can hang reading them;
/// - symbolic links are followed (to files and folders, also outside the folder given) and
///   counted; a link that leads back into a folder already walked (a loop) is skipped and
///   counted; each file is returned once, under the first path that reached it;
/// - DICOMDIR records are followed only to regular files inside the DICOMDIR's own folder: a
///   Referenced File ID with `..`, an absolute path or a link out of the folder is refused;
/// - files whose names say they are something else (text, images, archives) are set aside.
/// Every entry met is either in `files` or in `skipped` (or is a DICOMDIR, in `dicomdirs`).
public struct FileScanner {
    public struct Result: Sendable {
        /// Candidate DICOM files, each once, in a stable order.
        public var files: [String] = []
        /// Entries not taken, with the reason.
        public var skipped: [(path: String, reason: String)] = []
        /// DICOMDIR files read.
        public var dicomdirs: [String] = []
        /// Paths given that do not exist or cannot be read.
        public var missing: [String] = []
        /// Symbolic links followed (to files or folders).
        public var symlinksFollowed = 0
    }

    /// Extensions of files that are never DICOM.
    static let foreignExtensions: Set<String> = [
        "txt", "md", "json", "csv", "tsv", "xml", "html", "htm", "py", "pyc", "sh", "swift", "c", "h", "cpp",
        "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "pdf", "zip", "gz", "tgz", "bz2", "xz",
        "7z", "tar", "whl", "yml", "yaml", "toml", "ini", "log", "sqlite", "sqlite-wal", "sqlite-shm", "db",
        "j2k", "jp2", "jls", "raw", "bin", "npy", "npz", "ds_store",
    ]

    public init() {}

    /// Identity of a file or folder on disk, to see it twice through links.
    struct FileID: Hashable { var device: UInt64, inode: UInt64 }

    static func identity(_ path: String) -> FileID? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }

    public func scan(_ paths: [String]) -> Result {
        var walk = Walk()
        for root in paths {
            let path = URL(fileURLWithPath: root).standardizedFileURL.path
            if case .missing = FileKind.of(path) {
                // A dangling link or nothing at all.
                if Self.isSymlink(path) { walk.result.skipped.append((path, "symbolic link to nothing")) } else { walk.result.missing.append(root) }
                continue
            }
            walk.visit(path)
        }
        var result = walk.result
        var seenFiles = walk.seenFiles
        for path in walk.ordered {
            let name = URL(fileURLWithPath: path).lastPathComponent
            if name.uppercased().hasPrefix("DICOMDIR") {
                result.dicomdirs.append(path)
                let (referenced, refused) = followDicomdir(path)
                result.skipped += refused
                for file in referenced {
                    guard let id = Self.identity(file), seenFiles.insert(id).inserted else { continue }
                    result.files.append(file)
                }
                continue
            }
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            if Self.foreignExtensions.contains(ext) && !DicomFile.looksLikeDicom(path) {
                result.skipped.append((path, "not DICOM (.\(ext) file)"))
                continue
            }
            result.files.append(path)
        }
        return result
    }

    /// The walk: folders in sorted order. Symbolic links met on the way are followed only after
    /// everything reachable without links, so a file reachable both ways is taken under its real
    /// path; a file or folder reached again through a link is skipped (loops end there). Hard
    /// links are distinct paths and are all taken, as before.
    struct Walk {
        var result = Result()
        var ordered: [String] = []
        var seenFiles = Set<FileID>()
        var seenFolders = Set<FileID>()
        var seenPaths = Set<String>()
        var links: [String] = []

        mutating func visit(_ path: String) {
            visit(path, throughLink: false, isRoot: true)
            var next = 0
            while next < links.count {
                let link = links[next]
                next += 1
                visit(link, throughLink: true, isRoot: true)
            }
        }

        private mutating func visit(_ path: String, throughLink: Bool, isRoot: Bool) {
            let link = FileScanner.isSymlink(path)
            if link && !isRoot {
                links.append(path)  // followed once the real tree is done
                return
            }
            let viaLink = throughLink || link
            switch FileKind.of(path) {
            case .missing:
                result.skipped.append((path, link ? "symbolic link to nothing" : "vanished while scanning"))
            case let .other(what):
                result.skipped.append((path, "is \(what), not a regular file"))
            case .regular:
                guard let id = FileScanner.identity(path) else { return }
                if link { result.symlinksFollowed += 1 }
                if !viaLink {
                    seenFiles.insert(id)
                    if seenPaths.insert(path).inserted { ordered.append(path) }
                } else if seenFiles.insert(id).inserted {
                    ordered.append(path)
                } else {
                    result.skipped.append((path, "same file as one already found (through a symbolic link)"))
                }
            case .directory:
                guard let id = FileScanner.identity(path) else { return }
                if link { result.symlinksFollowed += 1 }
                guard seenFolders.insert(id).inserted else {
                    result.skipped.append((path, "folder already walked (a symbolic link loop or a second link to it)"))
                    return
                }
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
                    result.skipped.append((path, "folder cannot be read"))
                    return
                }
                for name in names.sorted() where !name.hasPrefix(".") {
                    visit(path == "/" ? "/" + name : path + "/" + name, throughLink: viaLink, isRoot: false)
                }
            }
        }
    }

    /// Regular files a DICOMDIR references inside its own folder, and the references refused.
    func followDicomdir(_ path: String) -> (files: [String], refused: [(path: String, reason: String)]) {
        guard let dir = try? DicomFile(path: path) else { return ([], [(path, "DICOMDIR could not be parsed")]) }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL
        let realBase = base.resolvingSymlinksInPath().path
        var files: [String] = [], refused: [(path: String, reason: String)] = []
        for relative in dir.dicomdirReferencedFiles {
            let components = relative.split(separator: "/")
            let shown = "\(path) → \(relative)"
            guard !relative.hasPrefix("/"), !components.contains(where: { $0 == ".." || $0 == "." }) else {
                refused.append((shown, "DICOMDIR reference outside its folder refused"))
                continue
            }
            let url = base.appendingPathComponent(relative).standardizedFileURL
            let real = url.resolvingSymlinksInPath().path
            guard real.hasPrefix(realBase.hasSuffix("/") ? realBase : realBase + "/") else {
                refused.append((shown, "DICOMDIR reference leads outside its folder (through a link): refused"))
                continue
            }
            switch FileKind.of(url.path) {
            case .regular: files.append(url.path)
            case .missing: refused.append((shown, "DICOMDIR references a file that does not exist"))
            case .directory: refused.append((shown, "DICOMDIR reference is a folder"))
            case let .other(what): refused.append((shown, "DICOMDIR reference is \(what), not a regular file"))
            }
        }
        return (files, refused)
    }
}
