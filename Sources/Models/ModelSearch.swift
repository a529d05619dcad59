import Foundation

/// Where dxkit finds model folders (a folder holding `model.json` and its weights):
/// 1. the folders given on the command line (`--models-dir`, repeatable; each must exist) — when
///    given, heads are taken from these only;
/// 2. otherwise the folders in `DXKIT_MODELS` (colon-separated), the install location
///    (`<prefix>/share/dxkit/models` for a binary in `<prefix>/bin`) and `./models`, in that order.
/// A model named by a card (a trained head's backbone, `classify --model`) is looked for in all of
/// them, in that order. Only existing folders are searched; `looked` lists every place considered,
/// for messages that say where dxkit looked. A name found in several folders is taken from the first.
public struct ModelSearch: Sendable {
    /// Existing folders heads are taken from, in search order.
    public let folders: [String]
    /// Existing folders models named by a card are looked for in: `folders`, then every other place.
    public let all: [String]
    /// Every place considered, with why it was (for error messages).
    public let looked: [String]

    public init(explicit: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                executable: String? = ModelSearch.executablePath) throws {
        var places: [(String, String)] = []
        for folder in explicit {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
                throw ModelError(file: folder, reason: "no such models folder (--models-dir)")
            }
            places.append((folder, "--models-dir"))
        }
        for folder in (environment["DXKIT_MODELS"] ?? "").split(separator: ":") where !folder.isEmpty {
            places.append((String(folder), "DXKIT_MODELS"))
        }
        if let executable {
            let prefix = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            places.append((prefix.appendingPathComponent("share/dxkit/models").path, "install location"))
        }
        places.append(("models", "./models"))
        var seen = Set<String>(), existing: [(path: String, explicit: Bool)] = []
        for (folder, source) in places {
            let path = URL(fileURLWithPath: folder).standardizedFileURL.path
            var isDir: ObjCBool = false
            if seen.insert(path).inserted, FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
                existing.append((path, source == "--models-dir"))
            }
        }
        all = existing.map(\.path)
        folders = explicit.isEmpty ? all : existing.filter(\.explicit).map(\.path)
        looked = places.filter { explicit.isEmpty || $0.1 == "--models-dir" }
            .map { "\(URL(fileURLWithPath: $0.0).standardizedFileURL.path) (\($0.1))" }
    }

    /// Searches only `folders` (tests, and a trained head's own folder).
    public init(folders: [String]) {
        self.folders = folders
        all = folders
        looked = folders
    }

    /// This process's binary (Linux: /proc/self/exe).
    public static var executablePath: String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first
    }

    /// The model folder called `name`, the first whose weights have `sha256` when given.
    public func folder(named name: String, sha256: String? = nil) -> String? {
        for base in all {
            let path = "\(base)/\(name)"
            guard let card = try? ModelCard.load("\(path)/model.json") else { continue }
            if let sha256, !sha256.isEmpty, let actual = card.weightsSha256, actual != sha256 { continue }
            return path
        }
        return nil
    }

    /// Every model folder (a subfolder with a model.json, or a searched folder that is one itself),
    /// first occurrence of each name.
    public func modelFolders() -> [String] {
        var names = Set<String>(), out: [String] = []
        for base in folders {
            if FileManager.default.fileExists(atPath: "\(base)/model.json") {
                if names.insert(URL(fileURLWithPath: base).lastPathComponent).inserted { out.append(base) }
                continue
            }
            let children = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted()
            for child in children where FileManager.default.fileExists(atPath: "\(base)/\(child)/model.json") {
                if names.insert(child).inserted { out.append("\(base)/\(child)") }
            }
        }
        return out
    }

    /// Where dxkit looked, for a message.
    public var lookedDescription: String { looked.joined(separator: ", ") }
}
