import ArgumentParser
import Pipeline
import Engine
import Foundation
import Models
import Training

/// Training throughput for `make bench-train`: the frozen-feature pass (backbone forward and
/// pooling on images) or fine-tuning steps of the last K blocks plus a linear head (forward,
/// backward, AdamW) on freeze-point maps; pseudo-random data, timed after the first epoch; JSON.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-train", abstract: "Measure training throughput (prints JSON).", shouldDisplay: false)

    @Option var model = "mobilenet-v2"
    @OptionGroup var models: ModelOptions
    @Option var batch = 16
    @Option var threads = 2
    @Option(help: "0: the frozen-feature pass; K: fine-tuning steps of the last K blocks.") var unfreeze = 0
    @Option(help: "Maps per epoch (fine-tuning).") var items = 64
    @Option(help: "Epochs (the first is a warm-up and is not timed).") var epochs = 4
    @Option(help: "Minimum seconds to measure (frozen pass).") var seconds = 2.0

    func run() throws {
        guard let folder = ModelCatalog.classifiers[model] else { throw ValidationError("unknown model \(model)") }
        let backbone = try Classifier(directory: models.folder(named: folder))
        let card = backbone.card
        let plan = ExecutionPlan.default.with { $0.threads = threads }
        var random = BenchNoise()
        func noise(_ n: Int) -> [Float] { random.values(n) }
        var result: [String: Any] = ["model": model, "batch": batch, "threads": threads, "unfreeze": unfreeze]
        if unfreeze == 0 {
            let input = Tensor(shape: [batch, 3, card.input.height, card.input.width], data: noise(batch * 3 * card.input.height * card.input.width))
            let pooled = Fusion.plan(Sequential([backbone.features, GlobalAveragePool()]))
            _ = Parallelism.forward(pooled, input, plan: plan)
            var images = 0
            let start = Date()
            repeat {
                _ = Parallelism.forward(pooled, input, plan: plan)
                images += batch
            } while Date().timeIntervalSince(start) < seconds
            result["images_per_second"] = Double(images) / Date().timeIntervalSince(start)
        } else {
            let cut = try TrainedHead.tailStart(backbone.features, unfrozen: unfreeze, file: "--unfreeze")
            let one = Sequential(Array(backbone.features.layers[..<cut]))
                .forward(Tensor(shape: [1, 3, card.input.height, card.input.width], data: noise(3 * card.input.height * card.input.width)),
                         plan)
            let shape = Array(one.shape.dropFirst())
            let maps = (0..<items).map { _ in noise(shape.reduce(1, *)).map { max($0, 0) } }
            let set = ActivationSet(shape: shape, values: maps, labels: (0..<items).map { $0 % 2 })
            var hyper = Trainer.Hyperparameters()
            hyper.epochs = epochs
            hyper.batch = batch
            hyper.unfreeze = unfreeze
            let tail = try TrainableTail(Array(backbone.features.layers[cut...]))
            var marks: [Date] = []
            _ = try FineTuner(hyper, tail: tail, plan: plan).fit(train: set, validation: ActivationSet(shape: shape, values: [], labels: []),
                                                     classes: 2) { _ in marks.append(Date()) }
            result["images_per_second"] = Double(items * (marks.count - 1)) / marks.last!.timeIntervalSince(marks[0])
            result["map_shape"] = shape
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}
