import Common
/// A failure to load or run a model, naming the file (or model) and the reason.
public typealias ModelError = FileFailure<ModelDomain>
public enum ModelDomain {}
