import Foundation

/// A bounded first-in first-out queue between threads: `put` blocks while it is full,
/// `take` blocks while it is empty and returns nil once it is closed and drained.
/// A taken element is released at once (its slot cleared), so the queue never keeps alive more
/// than the `capacity` elements it holds.
public final class WorkQueue<Element>: @unchecked Sendable {
    private var items: [Element?] = []
    private var head = 0
    private var closed = false
    private let capacity: Int
    private let condition = NSCondition()

    public init(capacity: Int) { self.capacity = max(capacity, 1) }

    public func put(_ item: Element) {
        condition.lock()
        while items.count - head >= capacity { condition.wait() }
        items.append(item)
        condition.broadcast()
        condition.unlock()
    }

    public func take() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed { condition.wait() }
        guard head < items.count else { return nil }
        let item = items[head]
        items[head] = nil
        head += 1
        if head > 1024 && head * 2 > items.count { items.removeFirst(head); head = 0 }
        condition.broadcast()
        return item
    }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Hands out the indices 0, 1, 2, … to competing threads.
public final class IndexCounter: @unchecked Sendable {
    private var value = 0
    private var stopped = false
    private let lock = NSLock()

    public init() {}

    /// Hands out nothing more (the work is abandoned).
    public func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
    }

    public func take(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit, !stopped else { return nil }
        value += 1
        return value - 1
    }
}
