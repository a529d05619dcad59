import Foundation

/// Finds the files to ingest under the given paths: folders are walked recursively
/// (hidden entries skipped), DICOMDIR records are followed to the files they reference,
/// and files whose names say they are something else (text, images, archives) are set aside.
public struct FileScanner {
    public struct Result: Sendable {
        /// Candidate DICOM files, each once, in a stable order.
        public var files: [String] = []
        /// Files not taken, with the reason.
        public var skipped: [(path: String, reason: String)] = []
        /// DICOMDIR files read.
        public var dicomdirs: [String] = []
        /// Paths given that do not exist or cannot be read.
        public var missing: [String] = []
    }

    /// Extensions of files that are never DICOM.
    static let foreignExtensions: Set<String> = [
        "txt", "md", "json", "csv", "tsv", "xml", "html", "htm", "py", "pyc", "sh", "swift", "c", "h", "cpp",
        "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "pdf", "zip", "gz", "tgz", "bz2", "xz",
        "7z", "tar", "whl", "yml", "yaml", "toml", "ini", "log", "sqlite", "sqlite-wal", "sqlite-shm", "db",
        "j2k", "jp2", "jls", "raw", "bin", "npy", "npz", "ds_store",
    ]

    public init() {}

    public func scan(_ paths: [String]) -> Result {
        var result = Result()
        var seen = Set<String>()
        var ordered: [String] = []
        let fm = FileManager.default
        func add(_ path: String) {
            let p = URL(fileURLWithPath: path).standardizedFileURL.path
            if seen.insert(p).inserted { ordered.append(p) }
        }
        for root in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: root, isDirectory: &isDir) else { result.missing.append(root); continue }
            if !isDir.boolValue { add(root); continue }
            guard let walker = fm.enumerator(at: URL(fileURLWithPath: root),
                                             includingPropertiesForKeys: [.isRegularFileKey],
                                             options: [.skipsHiddenFiles]) else {
                result.missing.append(root); continue
            }
            var found: [String] = []
            for case let url as URL in walker {
                if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true { found.append(url.path) }
            }
            found.sort()
            found.forEach(add)
        }
        for path in ordered {
            let name = URL(fileURLWithPath: path).lastPathComponent
            if name.uppercased().hasPrefix("DICOMDIR") {
                result.dicomdirs.append(path)
                for referenced in followDicomdir(path) where seen.insert(referenced).inserted {
                    result.files.append(referenced)
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

    /// Files a DICOMDIR references that exist, as standardised absolute paths.
    func followDicomdir(_ path: String) -> [String] {
        guard let dir = try? DicomFile(path: path) else { return [] }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        return dir.dicomdirReferencedFiles.compactMap { relative in
            let url = base.appendingPathComponent(relative).standardizedFileURL
            return FileManager.default.fileExists(atPath: url.path) ? url.path : nil
        }
    }
}
