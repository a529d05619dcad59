import Foundation

/// Paths of files dxkit writes (heatmaps) as the index stores them: relative to the database's
/// folder when inside it, so that the folder can be moved and `report` run from anywhere;
/// absolute otherwise.
public enum StoredPath {
    /// `path` (absolute) relative to `base` when inside it, else unchanged.
    public static func relative(_ path: String, to base: String) -> String {
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// A stored path resolved against the database's folder.
    public static func resolve(_ stored: String, database: String) -> String {
        if stored.hasPrefix("/") { return stored }
        let base = URL(fileURLWithPath: database).standardizedFileURL.deletingLastPathComponent()
        return base.appendingPathComponent(stored).standardizedFileURL.path
    }
}
