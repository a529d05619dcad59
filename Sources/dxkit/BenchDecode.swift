import ArgumentParser
import Pipeline
import DICOM
import Foundation

/// Decoding throughput for `make bench-ingest`: every frame of every file through the full
/// pixel pipeline, on N threads, timed without process start-up.
struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-decode", abstract: "Measure pixel decoding throughput (prints JSON).", shouldDisplay: false)

    @Argument var files: [String]
    @Option var jobs = 1
    @Option var `repeat` = 1

    func run() throws {
        let work = Array(repeating: files, count: max(1, `repeat`)).flatMap { $0 }
        let counter = NSLock()
        var next = 0, frames = 0, bytes = 0, failures: [String] = []
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: max(1, jobs)) { _ in
            while true {
                counter.lock()
                let i = next
                next += 1
                counter.unlock()
                guard i < work.count else { return }
                do {
                    let image = try DicomImage(path: work[i])
                    let l = image.layout
                    for f in 0..<l.frames { _ = try image.frame(f) }
                    counter.lock()
                    frames += l.frames
                    bytes += l.frames * l.rows * l.columns * l.samplesPerPixel * l.bitsAllocated / 8
                    counter.unlock()
                } catch {
                    counter.lock()
                    failures.append("\(error)")
                    counter.unlock()
                }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let result: [String: Any] = ["files": work.count - failures.count, "frames": frames,
                                     "decoded_bytes": bytes, "seconds": seconds, "failures": failures]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
