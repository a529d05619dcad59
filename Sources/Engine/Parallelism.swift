import CBLAS
import CKernels
import Foundation

/// How the engine uses cores, as an `ExecutionPlan` says. With one image, the cores share each
/// operation (GEMM rows or column panels, depthwise and stem rows) through CKernels' worker pool
/// (`split`); with a batch, each core takes the batch's next micro-batch and runs the whole
/// network on it alone — no synchronisation between layers — then takes the next, until none is
/// left. Stateless: what to do comes from the plan given.
public enum Parallelism {
    /// Runs `layer` on `input` (NCHW or NHWC, batch first) on `plan.threads` cores, `plan.microBatch`
    /// images at a time; the layers run under `plan` with `gemmThreads` set for the split chosen.
    public static func forward(_ layer: Layer, _ input: Tensor, plan: ExecutionPlan = .default) -> Tensor {
        _ = singleThreadedBLAS
        let n = input.batch
        let slices = min(plan.threads, n)
        let alone = perCore(plan, batch: n)
        if slices == 1 { return microBatches(layer, input, 0..<n, alone) }
        // Each core takes the next micro-batch as it finishes one, so a core slowed down (another
        // process, a busy neighbour) leaves the rest of the batch to the others.
        // Micro-batches small enough that every core gets one (two images on two cores: one each).
        let size = max(1, min(plan.microBatch, (n + slices - 1) / slices))
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
                let out = microBatches(layer, input, chunks[c], alone)
                lock.lock()
                outputs[c] = out
                lock.unlock()
            }
        }
        let parts = outputs.map { $0! }
        return Tensor(shape: [n] + Array(parts[0].shape.dropFirst()), data: parts.flatMap(\.data), layout: parts[0].layout)
    }

    /// `plan` as each core runs its share of a batch of `n` images with: each operation shared by
    /// all `plan.threads` cores when the batch is not split (one image, or one core), one core per
    /// operation when it is (the cores run micro-batches side by side).
    public static func perCore(_ plan: ExecutionPlan, batch n: Int) -> ExecutionPlan {
        plan.with { $0.gemmThreads = min(plan.threads, n) == 1 ? plan.threads : 1 }
    }

    /// Runs `body(slice, plan)` for slices 0..<count at once, one core each (each slice's plan with
    /// one core per operation); one slice gets all of `plan.threads` for its operations.
    public static func each(_ count: Int, plan: ExecutionPlan = .default, _ body: (Int, ExecutionPlan) -> Void) {
        _ = singleThreadedBLAS
        guard count > 1 else {
            if count == 1 { body(0, plan.with { $0.gemmThreads = plan.threads }) }
            return
        }
        let alone = plan.with { $0.gemmThreads = 1 }
        DispatchQueue.concurrentPerform(iterations: count) { body($0, alone) }
    }

    /// OpenBLAS runs only training's gradients, one core per call (a call per slice): its own
    /// spinning threads would compete with the engine's for the cores. Set once, on first use.
    static let singleThreadedBLAS: Void = openblas_set_num_threads(1)

    /// `layer` over the images `range` of `input`, `plan.microBatch` images at a time, so that a
    /// layer's activations stay in cache.
    static func microBatches(_ layer: Layer, _ input: Tensor, _ range: Range<Int>, _ plan: ExecutionPlan) -> Tensor {
        let microBatch = plan.microBatch
        if range == 0..<input.batch && input.batch <= microBatch { return layer.forward(input, plan) }
        let per = input.count / input.batch
        let itemShape = Array(input.shape.dropFirst())
        var pieces: [Tensor] = []
        for lo in stride(from: range.lowerBound, to: range.upperBound, by: microBatch) {
            let hi = min(lo + microBatch, range.upperBound)
            var slice = Tensor(shape: [hi - lo] + itemShape, layout: input.layout) { out in
                input.data.withUnsafeBufferPointer { out.baseAddress!.update(from: $0.baseAddress! + lo * per, count: out.count) }
            }
            pieces.append(layer.forward(slice, plan))
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

    /// Runs `body(i)` for every i < count on `plan.gemmThreads` cores (one image's operation shared
    /// among them, through CKernels' worker pool); in order on this thread when that is one.
    public static func split(_ count: Int, _ plan: ExecutionPlan, _ body: (Int) -> Void) {
        guard plan.gemmThreads > 1, count > 1 else { for i in 0..<count { body(i) }; return }
        withoutActuallyEscaping(body) { body in
            let box = Unmanaged.passRetained(TaskBox(body))
            dx_parallel_for(Int32(count), Int32(plan.gemmThreads), { context, index in
                Unmanaged<TaskBox>.fromOpaque(context!).takeUnretainedValue().body(Int(index))
            }, box.toOpaque())
            box.release()
        }
    }

    /// `body(image, rows)` over every image and a share of its output rows, the shares of one image
    /// on `plan.gemmThreads` cores: a kernel computes rows [lo, hi) of an image as the whole output
    /// of the same image with its top padding reduced by lo × stride rows.
    static func outputRows(images: Int, rows: Int, _ plan: ExecutionPlan, _ body: (Int, Range<Int>) -> Void) {
        let parts = chunks(rows, parts: plan.gemmThreads)
        for image in 0..<images { split(parts.count, plan) { body(image, parts[$0]) } }
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
