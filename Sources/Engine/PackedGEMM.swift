import CKernels
import Foundation

/// The engine's own GEMM for convolutions and dense layers (CKernels/gemm.c): the weights are
/// packed once when the layer is built (32-wide panels, the same for every instruction set), the
/// bias, activation and a residual addend are applied as the tiles are stored, and a single
/// image's rows are shared among the plan's `gemmThreads` cores. Register tiles of 12 x 32
/// (AVX-512), 6 x 16 (AVX2 + FMA) or 4 x 8 (portable C), as the plan's `isa` says. Measured here
/// against OpenBLAS 0.3.21 on the networks' shapes, one core, AVX-512: 82–114 GFLOP/s against
/// 65–98. Each output element is its bias plus the products in k order, whatever the tile or the
/// number of rows: a row's result never depends on the other rows (OpenBLAS's does).
public enum PackedGEMM {
    /// `w` [k][n] → the kernel's panels.
    static func pack(_ w: [Float], k: Int, n: Int) -> [Float] {
        let panels = (n + 31) / 32
        return [Float](unsafeUninitializedCapacity: k * panels * 32) { buffer, count in
            w.withUnsafeBufferPointer { dx_gemm_pack_b($0.baseAddress, Int32(k), Int32(n), buffer.baseAddress) }
            count = k * panels * 32
        }
    }

    /// The panels of `pack` back to `w` [k][n].
    static func unpack(_ panels: [Float], k: Int, n: Int) -> [Float] {
        var w = [Float](repeating: 0, count: k * n)
        for col in 0..<n {
            let (p, j) = (col / 32, col % 32)
            for kk in 0..<k { w[kk * n + col] = panels[(p * k + kk) * 32 + j] }
        }
        return w
    }

    /// out[rows][n] = act(a[rows][k] × W + bias) (+ addend[rows][n] when given), with `plan.isa`'s
    /// tiles. Shared among `plan.gemmThreads` cores by rows when there are many (a batch), else by
    /// 32-column panels (one image's small late maps).
    /// `afterAdd` (with `activation` the identity): act(a × W + bias + addend) instead.
    static func run(_ a: UnsafePointer<Float>, rows: Int, k: Int, panels: UnsafePointer<Float>, n: Int,
                    bias: UnsafePointer<Float>, activation: Activation, adding addend: UnsafePointer<Float>? = nil,
                    afterAdd: Activation = .identity, _ plan: ExecutionPlan, _ out: UnsafeMutablePointer<Float>) {
        precondition(afterAdd == .identity || activation == .identity, "an activation both before and after the addition")
        let code = afterAdd == .identity ? activation.code : afterAdd.code | 16
        let threads = plan.gemmThreads, panelCount = (n + 31) / 32, isa = plan.isa.rawValue
        if threads > 1 && rows >= 48 * threads {
            // Row chunks in multiples of the 12-row tile.
            let bounds = (0...threads).map { min(rows, ($0 * rows / threads + 11) / 12 * 12) }
            Parallelism.split(threads, plan) { t in
                let lo = bounds[t], hi = t == threads - 1 ? rows : bounds[t + 1]
                guard hi > lo else { return }
                dx_gemm_packed_add(isa, a + lo * k, Int32(hi - lo), Int32(k), panels, Int32(n), Int32(n), bias, code,
                                   addend.map { $0 + lo * n }, out + lo * n)
            }
        } else if threads > 1 && panelCount >= 2 {
            let parts = Parallelism.chunks(panelCount, parts: threads)
            Parallelism.split(parts.count, plan) { t in
                let first = parts[t].lowerBound * 32, width = min(n, parts[t].upperBound * 32) - first
                dx_gemm_packed_add(isa, a, Int32(rows), Int32(k), panels + first * k, Int32(width), Int32(n), bias + first,
                                   code, addend.map { $0 + first }, out + first)
            }
        } else {
            dx_gemm_packed_add(isa, a, Int32(rows), Int32(k), panels, Int32(n), Int32(n), bias, code, addend, out)
        }
    }
}
