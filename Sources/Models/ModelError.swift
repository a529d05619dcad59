/// A failure to load or run a model, naming the file (or model) and the reason.
public struct ModelError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { "\(file): \(reason)" }
}
