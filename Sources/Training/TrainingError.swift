import Common
import Foundation

/// A failure in training input or training itself, naming the file and the reason.
public typealias TrainingError = FileFailure<TrainingDomain>
public enum TrainingDomain {}

