import CKernels
import Dispatch
import Foundation

/// The engine's own GEMM for convolutions (CKernels/gemm.c): the weights are packed once when
/// the layer is built, the bias and activation are applied as the tiles are stored, and a
/// single image's rows are shared among `Parallelism.gemmThreads` cores. Measured here against
/// OpenBLAS 0.3.21 on the networks' shapes, one core: 82–114 GFLOP/s against 65–98. It needs
/// AVX-512F; elsewhere (or with DXKIT_GEMM=openblas) convolutions use OpenBLAS's sgemm.
public enum PackedGEMM {
    public static let available = dx_gemm_supported() != 0
        && ProcessInfo.processInfo.environment["DXKIT_GEMM"] != "openblas"

    /// `w` [k][n] → the kernel's panels (nil when the kernel is not available).
    static func pack(_ w: [Float], k: Int, n: Int) -> [Float]? {
        guard available else { return nil }
        let panels = (n + 31) / 32
        return [Float](unsafeUninitializedCapacity: k * panels * 32) { buffer, count in
            w.withUnsafeBufferPointer { dx_gemm_pack_b($0.baseAddress, Int32(k), Int32(n), buffer.baseAddress) }
            count = k * panels * 32
        }
    }

    /// out[rows][n] = act(a[rows][k] × W + bias).
    static func run(_ a: UnsafePointer<Float>, rows: Int, k: Int, panels: UnsafePointer<Float>, n: Int,
                    bias: UnsafePointer<Float>, activation: Activation, _ out: UnsafeMutablePointer<Float>) {
        let threads = min(Parallelism.gemmThreads, rows / 48)
        guard threads > 1 else {
            dx_gemm_packed(a, Int32(rows), Int32(k), panels, Int32(n), bias, activation.code, out)
            return
        }
        // Row chunks in multiples of the 12-row tile.
        let bounds = (0...threads).map { min(rows, ($0 * rows / threads + 11) / 12 * 12) }
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = bounds[t], hi = t == threads - 1 ? rows : bounds[t + 1]
            guard hi > lo else { return }
            dx_gemm_packed(a + lo * k, Int32(hi - lo), Int32(k), panels, Int32(n), bias, activation.code, out + lo * n)
        }
    }
}
