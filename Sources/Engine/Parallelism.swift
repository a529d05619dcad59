import CBLAS
import CKernels
import Foundation

/// How the engine uses cores. With one image, the cores share each operation (GEMM rows or
/// column panels, depthwise and stem rows) through CKernels' worker pool (`split`); with a
/// batch, each core takes the batch's next micro-batch and runs the whole network on it alone —
/// no synchronisation between layers — then takes the next, until none is left.
public enum Parallelism {
    /// Cores to use (default: all).
    public nonisolated(unsafe) static var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Images each core runs through the network at once (small, so activations stay in cache).
    /// Two measured best here (make bench-models: EfficientNet-Lite0 125 → 157 images/s against
    /// a whole slice of 8 at once; MobileNetV2 179 → 197; Xception unchanged). A batch too small
    /// to give every core one is cut finer (two images on two cores: one each; Xception 27 → 54
    /// images/s at batch 2).
    public nonisolated(unsafe) static var microBatch: Int = 2

    /// Whether inverted residual bodies run fused (`InvertedBottleneck`); off only to compare.
    public nonisolated(unsafe) static var fuseBottlenecks = ProcessInfo.processInfo.environment["DXKIT_FUSE"] != "0"

    /// Cores that share one GEMM (the engine's own, see `PackedGEMM`): all of them when one batch
    /// runs as a whole, one when the batch is split across cores. Set with OpenBLAS's threads.
    public nonisolated(unsafe) static var gemmThreads = 1

    /// Lets each GEMM use `threads` cores (training runs one batch at a time this way).
    public static func shareEachGEMM(threads: Int = Parallelism.threads) {
        // OpenBLAS only runs training's gradients: its spinning threads would compete with the
        // worker pool for the cores.
        openblas_set_num_threads(1)
        gemmThreads = max(1, threads)
    }

    /// One core per GEMM (the batch is split across cores instead).
    static func oneCorePerGEMM() {
        openblas_set_num_threads(1)
        gemmThreads = 1
    }

    /// Runs `body(slice)` for slices 0..<count at once, one core each, with single-threaded BLAS.
    public static func each(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 else { shareEachGEMM(); if count == 1 { body(0) }; return }
        oneCorePerGEMM()
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    /// Runs `layer` on `input` (NCHW or NHWC, batch first) using `threads` cores.
    public static func forward(_ layer: Layer, _ input: Tensor, threads: Int = Parallelism.threads) -> Tensor {
        let n = input.batch
        let slices = min(max(1, threads), n)
        if slices == 1 {
            shareEachGEMM(threads: threads)
            return microBatches(layer, input, 0..<n)
        }
        oneCorePerGEMM()
        // Each core takes the next micro-batch as it finishes one, so a core slowed down (another
        // process, a busy neighbour) leaves the rest of the batch to the others.
        // Micro-batches small enough that every core gets one (two images on two cores: one each).
        let size = max(1, min(microBatch, (n + slices - 1) / slices))
        let chunks = Swift.stride(from: 0, to: n, by: size).map { $0..<min($0 + size, n) }
        var outputs = [Tensor?](repeating: nil, count: chunks.count)
        var next = 0
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: slices) { _ in
            while true {
                lock.lock()
                let c = next
                next += 1
                lock.unlock()
                guard c < chunks.count else { return }
                let out = microBatches(layer, input, chunks[c])
                lock.lock()
                outputs[c] = out
                lock.unlock()
            }
        }
        let parts = outputs.map { $0! }
        return Tensor(shape: [n] + Array(parts[0].shape.dropFirst()), data: parts.flatMap(\.data), layout: parts[0].layout)
    }

    /// `layer` over the images `range` of `input`, `microBatch` images at a time, so that a layer's
    /// activations stay in cache.
    static func microBatches(_ layer: Layer, _ input: Tensor, _ range: Range<Int>) -> Tensor {
        if range == 0..<input.batch && input.batch <= microBatch { return layer.forward(input) }
        let per = input.count / input.batch
        let itemShape = Array(input.shape.dropFirst())
        var pieces: [Tensor] = []
        for lo in stride(from: range.lowerBound, to: range.upperBound, by: microBatch) {
            let hi = min(lo + microBatch, range.upperBound)
            var slice = Tensor(shape: [hi - lo] + itemShape, layout: input.layout) { out in
                input.data.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress! + lo * per, count: out.count) }
            }
            pieces.append(layer.forward(slice))
            ActivationBuffers.recycle(&slice, unlessSharedWith: pieces[pieces.count - 1])
        }
        if pieces.count == 1 { return pieces[0] }
        var offset = 0
        let whole = Tensor(shape: [range.count] + Array(pieces[0].shape.dropFirst()), layout: pieces[0].layout) { out in
            for piece in pieces {
                piece.data.withUnsafeBufferPointer { (out.baseAddress! + offset).update(from: $0.baseAddress!, count: $0.count) }
                offset += piece.count
            }
        }
        for i in pieces.indices { ActivationBuffers.recycle(&pieces[i]) }
        return whole
    }

    /// Runs `body(i)` for every i < count on `gemmThreads` cores (one image's operation shared
    /// among them, through CKernels' worker pool); in order on this thread when that is one.
    public static func split(_ count: Int, _ body: (Int) -> Void) {
        guard gemmThreads > 1, count > 1 else { for i in 0..<count { body(i) }; return }
        withoutActuallyEscaping(body) { body in
            let box = Unmanaged.passRetained(TaskBox(body))
            dx_parallel_for(Int32(count), Int32(gemmThreads), { context, index in
                Unmanaged<TaskBox>.fromOpaque(context!).takeUnretainedValue().body(Int(index))
            }, box.toOpaque())
            box.release()
        }
    }

    /// `body(image, rows)` over every image and a share of its output rows, the shares of one image
    /// on `gemmThreads` cores: a kernel computes rows [lo, hi) of an image as the whole output of
    /// the same image with its top padding reduced by lo × stride rows.
    static func outputRows(images: Int, rows: Int, _ body: (Int, Range<Int>) -> Void) {
        let parts = chunks(rows, parts: gemmThreads)
        for image in 0..<images { split(parts.count) { body(image, parts[$0]) } }
    }

    /// [lo, hi) bounds splitting `count` items into `parts` near-equal chunks.
    static func chunks(_ count: Int, parts: Int) -> [Range<Int>] {
        (0..<parts).map { ($0 * count / parts)..<(($0 + 1) * count / parts) }.filter { !$0.isEmpty }
    }
}

/// A closure handed to C as a context pointer.
final class TaskBox {
    let body: (Int) -> Void
    init(_ body: @escaping (Int) -> Void) { self.body = body }
}
