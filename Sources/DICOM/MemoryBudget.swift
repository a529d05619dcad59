import Foundation

/// Memory shared by concurrent decodes: each worker reserves a frame's `PixelLayout.decodeBytes`
/// before decoding and releases it after, waiting while the others hold too much. Every frame
/// `DecodeLimits` admits fits the budget alone, so a reservation always succeeds eventually,
/// and all workers together stay within it.
public final class MemoryBudget: @unchecked Sendable {
    public let total: Int
    private var used = 0
    private let condition = NSCondition()

    public init(total: Int) { self.total = max(total, 1) }

    /// Runs `body` holding `bytes` of the budget (clamped to the total).
    public func reserving<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
        let amount = min(max(bytes, 0), total)
        condition.lock()
        while used + amount > total { condition.wait() }
        used += amount
        condition.unlock()
        defer {
            condition.lock()
            used -= amount
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
