import ArgumentParser
import Pipeline
import Engine
import Foundation
import Models

/// Network throughput for `make bench-models`: forward passes on a fixed pseudo-random batch,
/// timed after one warm-up pass; prints JSON, with the instruction set the engine ran
/// (`DXKIT_ISA` caps it) and that set's measured multiply-add peak. `--peak` prints only the
/// measured single-core peaks of every set this machine runs.
struct BenchModels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-models", abstract: "Measure network throughput (prints JSON).", shouldDisplay: false)

    @Option var model = "pneumonia"
    @OptionGroup var models: ModelOptions
    @Option var batch = 16
    @Option(help: "Threads: OpenBLAS threads and images processed in parallel.") var threads = 1
    @Option(help: "Minimum seconds to measure.") var seconds = 2.0
    @Option(help: "Images each core runs at once (default: the engine's).") var microBatch: Int?
    @Flag(help: "Only measure each instruction set's single-core multiply-add peak.") var peak = false

    func run() throws {
        if peak {
            var peaks: [String: Double] = [:]
            for isa in ISA.supported { peaks[isa.description] = ISA.peakGFLOPS(isa, seconds: 0.3) }
            let result: [String: Any] = ["isa": ExecutionPlan.default.isa.description, "best_isa": ISA.best.description,
                                         "fma_peak_gflops_per_core": peaks]
            print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        // A shipped model by its catalog name, or any model folder by its name (an imported one).
        let folder = ModelCatalog.classifiers[model] ?? model
        let classifier = try Classifier(directory: models.folder(named: folder))
        let card = classifier.card
        let plan = ExecutionPlan.default.with {
            $0.threads = threads
            if let microBatch { $0.microBatch = microBatch }
        }
        var noise = BenchNoise()
        let channels = card.input.channels
        let data = noise.values(batch * channels * card.input.height * card.input.width)
        let input = Tensor(shape: [batch, channels, card.input.height, card.input.width], data: data)
        _ = classifier.logits(input, plan: plan)
        var images = 0
        let start = Date(), cpuStart = Self.cpuSeconds()
        repeat {
            _ = classifier.logits(input, plan: plan)
            images += batch
        } while Date().timeIntervalSince(start) < seconds
        let elapsed = Date().timeIntervalSince(start), cpu = Self.cpuSeconds() - cpuStart
        // CPU time (user + system, this process's threads) is what a run costs with the time other
        // processes or a hypervisor took from it left out: steadier than wall time for comparisons.
        let result: [String: Any] = ["model": model, "batch": batch, "threads": threads, "images": images,
                                     "seconds": elapsed, "images_per_second": Double(images) / elapsed,
                                     "cpu_seconds": cpu, "images_per_cpu_second": Double(images) / cpu,
                                     "isa": plan.isa.description]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// The benchmarks' fixed pseudo-random inputs in [-1, 1).
struct BenchNoise {
    var seed: UInt64 = 42
    mutating func values(_ n: Int) -> [Float] {
        (0..<n).map { _ in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(seed >> 40) % 2000) / 1000 - 1
        }
    }
}
