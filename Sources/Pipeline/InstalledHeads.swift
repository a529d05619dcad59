import Foundation
import Models

/// The installed task heads: model folders whose card names a head and its scoring rules, from
/// every folder `search` covers (the first folder holding a head's name wins). Each card is read
/// and decoded once.
public enum InstalledHeads {
    /// Throws, naming where it looked, when a head in `only` is not installed or none is.
    public static func load(search: ModelSearch, only: [String]?) throws -> [ScoreJob.Head] {
        var heads: [ScoreJob.Head] = []
        for folder in search.modelFolders() {
            guard let head = try ScoreJob.Head.loadIfHead(directory: folder, search: search) else { continue }  // a backbone
            if let only, !only.contains(head.name) { continue }
            if heads.contains(where: { $0.name == head.name }) { continue }
            heads.append(head)
        }
        for wanted in only ?? [] where !heads.contains(where: { $0.name == wanted }) {
            throw ModelError(file: wanted, reason: "no installed model for head '\(wanted)' (installed: \(heads.map(\.name).joined(separator: ", ")); looked in \(search.lookedDescription))")
        }
        if heads.isEmpty {
            throw ModelError(file: search.folders.first ?? "models", reason: "no task heads found; looked in \(search.lookedDescription) (run `make setup` or `make install`, set DXKIT_MODELS, or pass --models-dir)")
        }
        return heads
    }
}
