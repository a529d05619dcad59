import ArgumentParser
import Engine
import Foundation
import Models
import Pipeline

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on DICOM, PNG or JPEG files and print probabilities or the top classes.",
        discussion: "Models: pneumonia (Xception + pneumonia head), mobilenet-v2, efficientnet-lite0 (ImageNet), densenet-121 and resnet-50 (weights you convert with scripts/convert_torchvision.py into models/densenet-121, models/resnet-50).")

    @Argument(help: "Image files (DICOM, PNG or JPEG).")
    var files: [String]

    @Option(help: "pneumonia, mobilenet-v2, efficientnet-lite0, densenet-121, resnet-50, or the name of a model folder (an imported model).")
    var model = "pneumonia"

    @Option(help: "Top classes to print for the ImageNet classifiers.")
    var top = 5

    @OptionGroup var models: ModelOptions

    @Option(help: "Images per batch.")
    var batch = 16

    @Flag(help: "One JSON object per line.")
    var json = false

    @Flag(help: "Print where the time goes, per operation kind, on standard error.")
    var profile = false

    func run() throws {
        // A shipped model by its catalog name, or any model folder by its name (an imported one).
        guard let folder = ModelCatalog.classifiers[model] ?? (try? models.search())?.folder(named: model).map({ _ in model }) else {
            if model == "xception" {
                printError("dxkit classify: the shipped Xception weights have no ImageNet head (include_top=False); use --model pneumonia")
            } else {
                printError("dxkit classify: unknown model \(model); choose one of \(ModelCatalog.classifiers.keys.sorted().joined(separator: ", "))")
            }
            throw ExitCode(2)
        }
        let classifier: Classifier
        do { classifier = try Classifier(directory: models.folder(named: folder), search: models.search()) } catch {
            printError("dxkit classify: \(error)")
            throw ExitCode(2)
        }
        let card = classifier.card
        let profiler = profile ? Profiler() : nil
        let started = Date()
        let results = ImageClassification(classifier: classifier, batchSize: batch,
                                          plan: ExecutionPlan.default.with { $0.profiler = profiler }).run(files)
        if let profiler { printProfile(profiler, total: Date().timeIntervalSince(started)) }
        var failed = false
        for r in results {
            if let error = r.error {
                failed = true
                printError("dxkit classify: \(error)")
                if json { emit(["file": r.file, "model": model, "error": error]) }
                continue
            }
            let isHead = card.classes != nil && r.logits.count <= 10
            if isHead {
                let probabilities = Dictionary(uniqueKeysWithValues: r.probabilities.enumerated().map { (card.label($0.offset), Double($0.element)) })
                if json {
                    emit(["file": r.file, "model": model, "probabilities": probabilities])
                } else {
                    printSafe("\(r.file): " + r.probabilities.enumerated().map { String(format: "%@ %.4f", card.label($0.offset), $0.element) }.joined(separator: "  "))
                }
            } else {
                let order = r.logits.indices.sorted { r.logits[$0] > r.logits[$1] }.prefix(max(1, top))
                if json {
                    emit(["file": r.file, "model": model, "top": order.map {
                        ["index": $0, "label": card.label($0), "logit": Double(r.logits[$0]), "probability": Double(r.probabilities[$0])] as [String: Any]
                    }])
                } else {
                    printSafe("\(r.file):")
                    for i in order { printSafe(String(format: "  %4d  ", i) + card.label(i).padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " logit %8.4f  p %.4f", r.logits[i], r.probabilities[i])) }
                }
            }
        }
        if failed { throw ExitCode(1) }
    }

    func printProfile(_ profiler: Profiler, total: Double) {
        let rows = profiler.report()
        let network = rows.reduce(0) { $0 + $1.seconds }
        printError(String(format: "profile: %.3f s in total, %.3f s in the network (the rest: decoding and preprocessing)", total, network))
        for r in rows {
            printError("  " + r.name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " %8.4f s  %5.1f%%  %6d calls", r.seconds, 100 * r.seconds / max(network, 1e-9), r.calls))
        }
    }

    func emit(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
