@testable import Engine

/// Deterministic pseudo-random values in [-1, 1).
struct Seeded {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
    }
    mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
}

/// Textbook loops, written for clarity only, that the kernels are checked against.
enum Naive {
    static func conv(_ x: Tensor, weights: [Float], bias: [Float], cout: Int, k: Int, stride: Int, pad: Padding,
                     groups: Int = 1) -> Tensor {
        let (n, cin, h, w) = (x.batch, x.channels, x.height, x.width)
        let oh = (h + pad.top + pad.bottom - k) / stride + 1, ow = (w + pad.left + pad.right - k) / stride + 1
        let cinPerGroup = cin / groups, coutPerGroup = cout / groups
        var out = Tensor(zeros: [n, cout, oh, ow])
        for b in 0..<n { for o in 0..<cout { for oy in 0..<oh { for ox in 0..<ow {
            var s = Double(bias[o])
            let g = o / coutPerGroup
            for ci in 0..<cinPerGroup { for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride + ky - pad.top, ix = ox * stride + kx - pad.left
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let c = g * cinPerGroup + ci
                s += Double(x.data[((b * cin + c) * h + iy) * w + ix]) * Double(weights[((o * cinPerGroup + ci) * k + ky) * k + kx])
            } } }
            out.data[((b * cout + o) * oh + oy) * ow + ox] = Float(s)
        } } } }
        return out
    }

    static func maxPool(_ x: Tensor, k: Int, stride: Int, pad: Padding) -> Tensor {
        let (n, c, h, w) = (x.batch, x.channels, x.height, x.width)
        let oh = (h + pad.top + pad.bottom - k) / stride + 1, ow = (w + pad.left + pad.right - k) / stride + 1
        var out = Tensor(zeros: [n, c, oh, ow])
        for p in 0..<(n * c) { for oy in 0..<oh { for ox in 0..<ow {
            var m = -Float.infinity
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride + ky - pad.top, ix = ox * stride + kx - pad.left
                if iy >= 0 && iy < h && ix >= 0 && ix < w { m = max(m, x.data[(p * h + iy) * w + ix]) }
            } }
            out.data[(p * oh + oy) * ow + ox] = m
        } } }
        return out
    }
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// The instruction sets the tests run: every set this machine runs (`ISA.supported`: all three on
/// an AVX-512 machine), fewer where DXKIT_ISA caps `ExecutionPlan.default`.
let testedISAs = ISA.supported.filter { $0 <= ExecutionPlan.default.isa }

/// `body(plan)` once under each tested instruction set: `ExecutionPlan.default` with that set and
/// `gemmThreads` cores sharing each operation (one unless given).
func forEachISA(gemmThreads: Int = 1, _ body: (ExecutionPlan) throws -> Void) rethrows {
    for isa in testedISAs {
        try body(ExecutionPlan.default.with {
            $0.isa = isa
            $0.gemmThreads = gemmThreads
        })
    }
}
