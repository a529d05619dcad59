import ArgumentParser
import Foundation
import Models

struct ImportModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-model",
        abstract: "Import an ONNX model (opset 13 to 17) as a dxkit model folder (card, graph, safetensors).",
        discussion: """
            The graph is mapped onto dxkit's engine (BatchNorm folded, activations fused); an operation the \
            engine does not run is refused with its node's name. Without --card the model is a plain \
            classifier (`dxkit classify --model NAME`); with a card that has `scoring` (routing, aggregation, \
            and positive_class/threshold or, with --multilabel, findings) it is a task head that `score` and \
            `run` apply. The folder goes to --out, else the first --models-dir, else ./models.
            """)

    @Argument(help: "The ONNX file.") var model: String
    @Option(help: "Name of the model folder to write.") var name: String
    @Option(help: "A JSON card whose fields are kept (scoring, classes, licence, intended use, warning…).") var card: String?
    @Option(help: "Input size HxW (checked against the file; needed when its dims are symbolic).") var input: String?
    @Option(help: "Input channels, 1 (grey) or 3 (RGB); checked against the file.") var channels: Int?
    @Option(help: "Per-channel mean in [0, 1] units, comma-separated (default ImageNet's, or 0.5 for 1 channel).") var mean: String?
    @Option(help: "Per-channel standard deviation in [0, 1] units (input = (pixel/255 - mean) / std).") var std: String?
    @Option(help: "Resize method: bilinear (= stretch), nearest, letterbox, shorter-S-crop-C.") var resize: String?
    @Option(help: "Class names, comma-separated, as many as the model's outputs.") var labels: String?
    @Option(help: "A file of class names, one per line.") var labelsFile: String?
    @Flag(help: "Sigmoid outputs, one finding per class (thresholds 0.5 unless the card gives them).") var multilabel = false
    @Option(help: "The value (ONNX node output name) the backbone ends with (default: the input of the last global pool).") var featureLayer: String?
    @Option(help: "Folder to write the model folder into.") var out: String?
    @OptionGroup var models: ModelOptions

    func run() throws {
        var options = ModelImport.Options(name: name)
        do {
            if let card {
                let data = try Data(contentsOf: URL(fileURLWithPath: card))
                guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                    throw ModelError(file: card, reason: "the card is not a JSON object")
                }
                options.card = object
            }
            if let channels {
                guard channels == 1 || channels == 3 else { throw ValidationError("--channels takes 1 or 3") }
                options.channels = channels
            }
            if input != nil {
                let size = try (input ?? "").split(separator: "x").map { s -> Int in
                    guard let v = Int(s), v > 0 else { throw ValidationError("--input takes HxW, e.g. 224x224") }
                    return v
                }
                guard size.count == 2 else { throw ValidationError("--input takes HxW, e.g. 224x224") }
                let c = channels ?? (options.card?["input"] as? [String: Any])?["channels"] as? Int ?? 0  // 0: the file's
                guard c == 0 || c == 1 || c == 3 else { throw ValidationError("--channels takes 1 or 3") }
                options.inputShape = [c, size[0], size[1]]
            }
            options.mean = try numbers(mean, "--mean")
            options.std = try numbers(std, "--std")
            options.resize = resize
            if let labels { options.labels = labels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            if let labelsFile {
                let text = try String(contentsOfFile: labelsFile, encoding: .utf8)
                options.labels = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            options.multilabel = multilabel
            options.featureLayer = featureLayer
            let directory = out ?? models.modelsDirs.first ?? "models"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let summary = try ModelImport.run(onnx: model, options: options, into: directory)
            print("imported \(model) (opset \(summary.opset), sha256 \(summary.sha256.prefix(16))…): \(summary.nodes) operations, "
                  + "\(summary.outputs) outputs, features at \(summary.featureLayer) → \(summary.folder)")
        } catch let error as ValidationError {
            throw error
        } catch {
            printError("dxkit import-model: \(error)")
            throw ExitCode(2)
        }
    }

    func numbers(_ text: String?, _ flag: String) throws -> [Double]? {
        guard let text else { return nil }
        return try text.split(separator: ",").map {
            guard let v = Double($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("\(flag) takes numbers, comma-separated") }
            return v
        }
    }
}
