/// A failure tied to a file (or what stands for one: a model, a database, a labels file), naming
/// it and the reason — so that a batch can record it against that file and go on. Each module has
/// its own typed error as an alias of this one type (`ModelError`, `StoreError`, `TrainingError`,
/// …): they are caught apart by type, and their description is always "file: reason".
public struct FileFailure<Domain>: Error, CustomStringConvertible, @unchecked Sendable {
    public let file: String
    public let reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
