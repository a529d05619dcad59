import CKernels
import Foundation

/// 3x3 stride-1 convolutions by Winograd's minimal filtering F(4x4, 3x3) (CKernels/winograd.c):
/// each 6x6 input tile is transformed, multiplied by the transformed filters as 36 GEMMs on the
/// engine's packed GEMM, and transformed back, doing 36 multiplications per 4x4 outputs instead
/// of 144. The filters are transformed (in double precision) and packed once, when the layer is
/// built. Results differ from im2col + GEMM by rounding only (tested against the direct sum, up
/// to 1e-5 of the output's scale). Used on every instruction set unless the plan turns it off
/// (`ExecutionPlan.winograd`, `DXKIT_WINOGRAD=0`).
struct Winograd: @unchecked Sendable {
    /// The 36 transformed filter matrices [cin][cout], each packed for the GEMM, `panelStride` apart.
    let panels: [Float]
    let panelStride: Int
    let inChannels: Int, outChannels: Int

    /// Whether a convolution of this shape runs this way: 3x3, stride 1, enough input channels
    /// for the GEMMs to pay (the RGB stems run a direct kernel).
    static func applies(kernel: (Int, Int), stride: Int, inChannels: Int) -> Bool {
        kernel == (3, 3) && stride == 1 && inChannels >= 16
    }

    /// From weights [(ky, kx, ci), co].
    init(weights: [Float], inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        let matrix = inChannels * outChannels
        var transformed = [Float](repeating: 0, count: 36 * matrix)
        weights.withUnsafeBufferPointer { g in
            transformed.withUnsafeMutableBufferPointer {
                dx_winograd_weights(g.baseAddress, Int32(inChannels), Int32(outChannels), $0.baseAddress)
            }
        }
        panelStride = inChannels * ((outChannels + 31) / 32 * 32)
        let stride = panelStride
        panels = [Float](unsafeUninitializedCapacity: 36 * stride) { out, count in
            transformed.withUnsafeBufferPointer { u in
                for e in 0..<36 {
                    dx_gemm_pack_b(u.baseAddress! + e * matrix, Int32(inChannels), Int32(outChannels),
                                   out.baseAddress! + e * stride)
                }
            }
            count = 36 * stride
        }
    }

    /// act(conv(x) + bias) for every image of `x` (NHWC) into `out` [n][oh][ow][cout]; one image's
    /// bands of output rows are shared among `plan.gemmThreads` cores.
    func run(_ x: UnsafePointer<Float>, images n: Int, height h: Int, width w: Int, padding pad: Padding,
             outHeight oh: Int, outWidth ow: Int, bias: UnsafePointer<Float>, activation: Activation,
             _ plan: ExecutionPlan, _ out: UnsafeMutablePointer<Float>) {
        let scratch = dx_winograd_scratch(Int32(ow), Int32(inChannels), Int32(outChannels))
        let tileRows = (oh + 3) / 4
        let parts = Parallelism.chunks(tileRows, parts: plan.gemmThreads)
        let isa = plan.isa.rawValue
        panels.withUnsafeBufferPointer { p in
            for img in 0..<n {
                Parallelism.split(parts.count, plan) { t in
                    ActivationBuffers.withScratch(scratch) { s in
                        dx_winograd_conv(isa, x + img * h * w * inChannels, Int32(h), Int32(w), Int32(inChannels),
                                         Int32(pad.top), Int32(pad.left), p.baseAddress, panelStride,
                                         Int32(outChannels), bias, activation.code, Int32(oh), Int32(ow),
                                         Int32(parts[t].lowerBound), Int32(parts[t].upperBound), s,
                                         out + img * oh * ow * outChannels)
                    }
                }
            }
        }
    }
}
