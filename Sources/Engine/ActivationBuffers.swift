import Foundation

/// Activation arrays reused from layer to layer and from image to image, one pool per thread.
/// A layer's output (`Tensor(shape:layout:fill:)`) takes a free array of exactly its size, and
/// containers give back the intermediate maps they are done with (`Sequential`, `Residual`,
/// micro-batches): after a network's first micro-batch on a thread, its forward pass allocates
/// no activation memory. Arrays are values: one that is still referenced elsewhere is copied
/// when written, never overwritten in place, so reuse cannot change a tensor somebody holds.
/// A thread's pool keeps at most `capacityBytes`. The pools are per-thread caches, not settings:
/// they change how often memory is allocated, never a result, so they stay outside `ExecutionPlan`
/// (a plan's passes on a thread share its pool, as passes of several plans may).
final class ActivationBuffers {
    static let capacityBytes = 64 << 20
    private var free: [Int: [[Float]]] = [:]
    private var bytes = 0
    /// Arrays asked for that the pool did not have (each became a new allocation).
    private(set) var misses = 0

    /// The calling thread's pool.
    static var current: ActivationBuffers {
        if let pointer = pthread_getspecific(key) { return Unmanaged<ActivationBuffers>.fromOpaque(pointer).takeUnretainedValue() }
        let pool = ActivationBuffers()
        pthread_setspecific(key, Unmanaged.passRetained(pool).toOpaque())
        return pool
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            Unmanaged<ActivationBuffers>.fromOpaque(pointer).release()
        }
        return key
    }()

    /// A free array of `count` values (their contents are stale), or nil.
    func take(_ count: Int) -> [Float]? {
        guard let array = free[count]?.popLast() else { misses += 1; return nil }
        bytes -= count * MemoryLayout<Float>.size
        return array
    }

    /// Keeps `array`'s storage for a later `take` (dropped when the pool is full); `array` is left empty.
    func give(_ array: inout [Float]) {
        let size = array.count * MemoryLayout<Float>.size
        guard size > 0, bytes + size <= Self.capacityBytes else { return }
        bytes += size
        free[array.count, default: []].append(array)
        array = []
    }

    /// `body` with scratch memory of `count` values from the pool (given back afterwards).
    static func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let pool = current
        var array = pool.take(count) ?? [Float](unsafeUninitializedCapacity: count) { $1 = count }  // stale values are fine
        defer { pool.give(&array) }
        return array.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    /// Gives back `tensor`'s storage unless it is shared with `keep` (a layer may return its input).
    static func recycle(_ tensor: inout Tensor, unlessSharedWith keep: Tensor...) {
        let base = tensor.data.withUnsafeBufferPointer { $0.baseAddress }
        for other in keep where other.data.withUnsafeBufferPointer({ $0.baseAddress }) == base { return }
        current.give(&tensor.data)
    }
}
