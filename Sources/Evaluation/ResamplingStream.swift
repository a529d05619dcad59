/// The bootstrap's random draws: a 64-bit linear congruential generator (Knuth's MMIX constants),
/// a draw being `(state >> 33) mod bound` of the next state — the stream dxkit's bootstrap has
/// always used, so a seed gives the same intervals as before. It can jump ahead k steps in
/// O(log k), so replicate r starts where the serial stream would have reached it (r × n draws in)
/// and replicates can run on any number of threads with the same results.
struct ResamplingStream {
    static let multiplier: UInt64 = 6364136223846793005
    static let increment: UInt64 = 1442695040888963407

    var state: UInt64

    init(seed: UInt64) { state = seed }

    /// (multiplier, increment) of `steps` steps at once: state' = m·state + c (mod 2^64).
    static func jump(_ steps: UInt64) -> (m: UInt64, c: UInt64) {
        var accM: UInt64 = 1, accC: UInt64 = 0, m = multiplier, c = increment, k = steps
        while k > 0 {
            if k & 1 == 1 {
                accM = accM &* m
                accC = accC &* m &+ c
            }
            c = (m &+ 1) &* c
            m = m &* m
            k >>= 1
        }
        return (accM, accC)
    }

    mutating func skip(_ steps: UInt64) {
        let (m, c) = Self.jump(steps)
        state = m &* state &+ c
    }

    /// `count` draws below `bound`, each adding one to `counts[targets[draw]]`: four interleaved
    /// leapfrog lanes (each stepping four states at once) so the multiplications overlap; the
    /// state ends where `count` serial steps would leave it.
    mutating func scatter(count: Int, bound: Int, targets: UnsafePointer<Int32>, into counts: UnsafeMutablePointer<Int32>) {
        guard count > 0 else { return }
        precondition(bound > 0 && bound < 1 << 32, "bound within 32 bits")
        // Lemire's fastmod: x mod d for 32-bit x and d with two multiplications, exact.
        let d = UInt64(bound), magic = UInt64.max / d &+ 1
        @inline(__always) func draw(_ s: UInt64) -> Int {
            Int((magic &* (s >> 33)).multipliedFullWidth(by: d).high)
        }
        let a = Self.multiplier, c = Self.increment
        var i = 0
        if count >= 8 {
            let (m4, c4) = Self.jump(4)
            var s0 = a &* state &+ c
            var s1 = a &* s0 &+ c
            var s2 = a &* s1 &+ c
            var s3 = a &* s2 &+ c
            while i + 4 <= count {
                counts[Int(targets[draw(s0)])] += 1
                counts[Int(targets[draw(s1)])] += 1
                counts[Int(targets[draw(s2)])] += 1
                counts[Int(targets[draw(s3)])] += 1
                state = s3
                i += 4
                s0 = m4 &* s0 &+ c4
                s1 = m4 &* s1 &+ c4
                s2 = m4 &* s2 &+ c4
                s3 = m4 &* s3 &+ c4
            }
        }
        while i < count {
            state = a &* state &+ c
            counts[Int(targets[draw(state)])] += 1
            i += 1
        }
    }
}
