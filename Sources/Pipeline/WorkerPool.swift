import Foundation

/// The pipeline's one way of spreading per-file work over cores: `produce(i)` runs for every index
/// on `jobs` threads (8 MiB stacks, for decoders that recurse), never more than `window` items ahead
/// of the oldest one not yet consumed, and `consume` receives the results on the calling thread in
/// index order, whichever thread finished first — so batches formed from them, and everything
/// written, are the same on every run. When `consume` (or `whileStarting`) throws, the workers are
/// stopped and drained and the error is rethrown.
enum WorkerPool {
    static func run<Item>(count: Int, jobs: Int, window: Int, produce: @escaping (Int) -> Item,
                          whileStarting: () throws -> Void = {}, consume: (Int, Item) throws -> Void) throws {
        guard count > 0 else { return try whileStarting() }
        let queue = WorkQueue<(Int, Item)>(capacity: window)
        let counter = WindowedCounter(window: window)
        let group = DispatchGroup()
        for _ in 0..<max(1, jobs) {
            group.enter()
            let thread = Thread {
                while let i = counter.take(below: count) { queue.put((i, produce(i))) }
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        DispatchQueue.global().async { group.wait(); queue.close() }
        var waiting: [Int: Item] = [:]
        var next = 0
        do {
            try whileStarting()
            while let (index, item) = queue.take() {
                waiting[index] = item
                while let ready = waiting.removeValue(forKey: next) {
                    next += 1
                    counter.taken(next)
                    try consume(next - 1, ready)
                }
            }
        } catch {
            counter.stop()
            while queue.take() != nil {}  // lets the workers finish
            throw error
        }
    }
}

/// Hands out 0, 1, 2, … to competing threads, never more than `window` past the first index not
/// yet `taken` by the consumer: workers wait instead of racing ahead.
final class WindowedCounter: @unchecked Sendable {
    private var value = 0
    private var consumed = 0
    private var stopped = false
    private let window: Int
    private let condition = NSCondition()

    init(window: Int) { self.window = max(window, 1) }

    func take(below limit: Int) -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while value >= consumed + window && !stopped && value < limit { condition.wait() }
        guard value < limit, !stopped else { return nil }
        value += 1
        return value - 1
    }

    /// The consumer has everything below `count`.
    func taken(_ count: Int) {
        condition.lock()
        consumed = count
        condition.broadcast()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
