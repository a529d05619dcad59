import Foundation

/// A failure in training input or training itself, naming the file and the reason.
public struct TrainingError: Error, CustomStringConvertible {
    public let file: String
    public let reason: String
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { "\(file): \(reason)" }
}

