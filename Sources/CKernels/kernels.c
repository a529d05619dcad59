/* kernels.c — see dxkernels.h: the portable kernels (portable_kernels.h) compiled for each instruction
 * set, and the public functions, which run the copy for the caller's `isa`. */
#include "internal.h"

#include <float.h>
#include <string.h>

/* Baseline: whatever the compiler targets (x86-64 with SSE2, aarch64 with NEON, ...). */
#define DX_FN(name) DX_CAT(name, _generic)
#define DX_DW_ROWS(...) 0
#define DX_DIRECT_W 8
#include "portable_kernels.h"
#undef DX_FN
#undef DX_DW_ROWS
#undef DX_DIRECT_W

#if DX_X86
DX_BEGIN_AVX2
#define DX_FN(name) DX_CAT(name, _avx2)
#define DX_DW_ROWS(...) dx_depthwise_rows_avx2(__VA_ARGS__)
#define DX_DIRECT_W 16
#include "portable_kernels.h"
#undef DX_FN
#undef DX_DW_ROWS
#undef DX_DIRECT_W
DX_END_TARGET

DX_BEGIN_AVX512
#define DX_FN(name) DX_CAT(name, _avx512)
#define DX_DW_ROWS(...) dx_depthwise_rows_avx512(__VA_ARGS__)
#define DX_DIRECT_W 32
#include "portable_kernels.h"
#undef DX_FN
#undef DX_DW_ROWS
#undef DX_DIRECT_W
DX_END_TARGET
#endif

void dx_depthwise_nhwc(int isa, const float *in, int n, int h, int w, int c, const float *weights, const float *bias,
                       int k, int stride, int pad_top, int pad_left, int oh, int ow, int activation, float *out) {
    DX_DISPATCH(dx_depthwise_nhwc, isa,
                (in, n, h, w, c, weights, bias, k, stride, pad_top, pad_left, oh, ow, activation, out));
}

void dx_conv_direct_nhwc(int isa, const float *in, int n, int h, int w, int cin, const float *weights, const float *bias,
                         int cout, int kh, int kw, int stride, int pad_top, int pad_left, int oh, int ow,
                         int activation, float *out) {
    DX_DISPATCH(dx_conv_direct_nhwc, isa,
                (in, n, h, w, cin, weights, bias, cout, kh, kw, stride, pad_top, pad_left, oh, ow, activation, out));
}

void dx_bias_activation(int isa, float *data, long rows, int c, const float *bias, int activation) {
    DX_DISPATCH(dx_bias_activation, isa, (data, rows, c, bias, activation));
}

void dx_scale_bias_activation(int isa, const float *in, float *out, long rows, int c, const float *scale,
                              const float *bias, int activation) {
    DX_DISPATCH(dx_scale_bias_activation, isa, (in, out, rows, c, scale, bias, activation));
}

void dx_add_activation(int isa, const float *a, const float *b, float *out, long count, int activation) {
    DX_DISPATCH(dx_add_activation, isa, (a, b, out, count, activation));
}

void dx_activation(int isa, const float *in, float *out, long count, int activation) {
    DX_DISPATCH(dx_activation, isa, (in, out, count, activation));
}

void dx_activation_backward(int isa, const float *out, float *grad, long count, int activation) {
    DX_DISPATCH(dx_activation_backward, isa, (out, grad, count, activation));
}

void dx_pool_nhwc(int isa, const float *in, int n, int h, int w, int c, int k, int stride, int pad_top, int pad_left,
                  int oh, int ow, int average, const float *addend, float *out) {
    DX_DISPATCH(dx_pool_nhwc, isa, (in, n, h, w, c, k, stride, pad_top, pad_left, oh, ow, average, addend, out));
}

void dx_nchw_to_nhwc(int isa, const float *in, int n, int c, long plane, float *out) {
    DX_DISPATCH(dx_nchw_to_nhwc, isa, (in, n, c, plane, out));
}
