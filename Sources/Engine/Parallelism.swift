import CBLAS
import Foundation

/// How the engine uses cores. With one image, OpenBLAS threads share each GEMM; with a batch,
/// the batch is split into one slice per thread and each slice runs the whole network on its
/// own core with single-threaded BLAS — no synchronisation between layers.
public enum Parallelism {
    /// Cores to use (default: all).
    public nonisolated(unsafe) static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Lets OpenBLAS use `threads` cores for each GEMM (training runs one batch at a time this way).
    public static func shareEachGEMM(threads: Int = Parallelism.threads) { openblas_set_num_threads(Int32(max(1, threads))) }

    /// Runs `body(slice)` for slices 0..<count at once, one core each, with single-threaded BLAS.
    public static func each(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 else { shareEachGEMM(); if count == 1 { body(0) }; return }
        openblas_set_num_threads(1)
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// Runs `layer` on `input` (NCHW or NHWC, batch first) using `threads` cores.
    public static func forward(_ layer: Layer, _ input: Tensor, threads: Int = Parallelism.threads) -> Tensor {
        let n = input.batch
        let slices = min(max(1, threads), n)
        if slices == 1 {
            openblas_set_num_threads(Int32(max(1, threads)))
            return layer.forward(input)
        }
        openblas_set_num_threads(1)
        let per = input.count / n
        let itemShape = Array(input.shape.dropFirst())
        let bounds = (0...slices).map { $0 * n / slices }
        var outputs = [Tensor?](repeating: nil, count: slices)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: slices) { s in
            let lo = bounds[s], hi = bounds[s + 1]
            let part = Tensor(shape: [hi - lo] + itemShape, data: Array(input.data[(lo * per)..<(hi * per)]), layout: input.layout)
            let out = layer.forward(part)
            lock.lock()
            outputs[s] = out
            lock.unlock()
        }
        let parts = outputs.map { $0! }
        return Tensor(shape: [n] + Array(parts[0].shape.dropFirst()), data: parts.flatMap(\.data), layout: parts[0].layout)
    }
}
