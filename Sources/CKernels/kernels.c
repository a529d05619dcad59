/* kernels.c — see dxkernels.h. */
#include "dxkernels.h"
#include "depthwise_rows.h"

#include <float.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

#define BLOCK 64

static inline float act(float v, int activation) {
    if (activation == 1) return v > 0 ? v : 0;
    if (activation == 2) return v > 0 ? (v < 6 ? v : 6) : 0;
    return v;
}

static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

/* One output pixel, channels [c0, c0 + width): the accumulators stay in registers across taps
 * when `width` is a compile-time constant (64 = four AVX-512 registers). */
static inline __attribute__((always_inline)) void depthwise_block(
    const float *restrict src, int w, int c, const float *restrict weights, const float *restrict bias, int k,
    int y0, int ky0, int ky1, int x0, int kx0, int kx1, int c0, int width, int activation, float *restrict o) {
    float acc[BLOCK];
    for (int j = 0; j < width; j++) acc[j] = bias[c0 + j];
    for (int ky = ky0; ky < ky1; ky++) {
        const float *row = src + ((size_t)(y0 + ky) * w) * c + c0;
        for (int kx = kx0; kx < kx1; kx++) {
            const float *p = row + (size_t)(x0 + kx) * c;
            const float *f = weights + (size_t)(ky * k + kx) * c + c0;
            for (int j = 0; j < width; j++) acc[j] += f[j] * p[j];
        }
    }
    for (int j = 0; j < width; j++) o[c0 + j] = act(acc[j], activation);
}

/* Four adjacent output pixels of a stride-1 depthwise convolution with a K x K kernel, channels
 * [c0, c0 + CB), every tap inside the image horizontally: each input vector is loaded once for
 * the outputs that use it and each tap's weights once per kernel row. Taps are added in the same
 * order as depthwise_block (row by row, left to right), so results are identical. */
#define DEPTHWISE_X4(K, CB, NAME, INSIDE)                                                                    \
static inline __attribute__((always_inline)) void depthwise_x4_k##K##_c##CB##NAME(                           \
    const float *restrict src, int w, int c, const float *restrict weights, const float *restrict bias,       \
    int y0, int ky0, int ky1, int x0, int c0, int activation, float *restrict o) {                            \
    float acc[4][CB];                                                                                        \
    for (int j = 0; j < 4; j++)                                                                              \
        for (int q = 0; q < CB; q++) acc[j][q] = bias[c0 + q];                                               \
    for (int ky = ky0; ky < ky1; ky++) {                                                                     \
        const float *f = weights + (size_t)(ky * K) * c + c0;                                                \
        for (int p = 0; p < 4 + K - 1; p++) {                                                                \
            if (!(INSIDE) && (x0 + p < 0 || x0 + p >= w)) continue; /* padding contributes nothing */        \
            const float *in = src + ((size_t)(y0 + ky) * w + (x0 + p)) * c + c0;                             \
            for (int kx = 0; kx < K; kx++) {                                                                 \
                const int j = p - kx;                                                                        \
                if (j >= 0 && j < 4)                                                                         \
                    for (int q = 0; q < CB; q++) acc[j][q] += f[(size_t)kx * c + q] * in[q];                 \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    for (int j = 0; j < 4; j++)                                                                              \
        for (int q = 0; q < CB; q++) o[(size_t)j * c + c0 + q] = act(acc[j][q], activation);                 \
}
DEPTHWISE_X4(3, 32, , 1) DEPTHWISE_X4(3, 16, , 1) DEPTHWISE_X4(5, 32, , 1) DEPTHWISE_X4(5, 16, , 1)
DEPTHWISE_X4(5, 32, _edge, 0) DEPTHWISE_X4(5, 16, _edge, 0)

/* Returns the first channel not done by the four-pixel blocks (`edge`: some taps fall in the
 * horizontal padding and are skipped). */
#define DEPTHWISE_X4_CHANNELS(K, NAME)                                                                       \
    for (; c0 + 32 <= c; c0 += 32) depthwise_x4_k##K##_c32##NAME(src, w, c, weights, bias, y0, ky0, ky1, x0, c0, activation, o); \
    for (; c0 + 16 <= c; c0 += 16) depthwise_x4_k##K##_c16##NAME(src, w, c, weights, bias, y0, ky0, ky1, x0, c0, activation, o);
static inline __attribute__((always_inline)) int depthwise_x4(
    const float *restrict src, int w, int c, const float *restrict weights, const float *restrict bias, int k,
    int y0, int ky0, int ky1, int x0, int edge, int activation, float *restrict o) {
    int c0 = 0;
    if (k == 3) {
        DEPTHWISE_X4_CHANNELS(3, )
    } else {
        if (edge) { DEPTHWISE_X4_CHANNELS(5, _edge) } else { DEPTHWISE_X4_CHANNELS(5, ) }
    }
    return c0;
}

MULTIVERSION
void dx_depthwise_nhwc(const float *restrict in, int n, int h, int w, int c, const float *restrict weights,
                       const float *restrict bias, int k, int stride, int pad_top, int pad_left, int oh, int ow,
                       int activation, float *restrict out) {
    const int blocked = stride == 1 && (k == 3 || k == 5);
    for (int img = 0; img < n; img++) {
        const float *src = in + (size_t)img * h * w * c;
        if (dx_depthwise_rows(src, h, w, c, weights, bias, k, stride, pad_top, pad_left, 0, oh, ow, activation,
                              out + (size_t)img * oh * ow * c))
            continue;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * stride - pad_top;
            const int ky0 = imax(0, -y0), ky1 = imin(k, h - y0);
            int ox = 0;
            while (ox < ow) {
                const int x0 = ox * stride - pad_left;
                float *o = out + (((size_t)img * oh + oy) * ow + ox) * c;
                int c0 = 0, step = 1;
                const int edge = !(x0 >= 0 && x0 + 3 + k <= w);
                /* Four windows (with 5x5 kernels also where some taps fall in the padding, as on the
                 * small late maps; measured slower for 3x3): blocked channels, then the rest pixel by pixel. */
                if (blocked && ox + 4 <= ow && (!edge || k == 5)) {
                    c0 = depthwise_x4(src, w, c, weights, bias, k, y0, ky0, ky1, x0, edge, activation, o);
                    step = 4;
                }
                for (int j = 0; j < step; j++) {
                    const int xj = x0 + j;
                    const int kx0 = imax(0, -xj), kx1 = imin(k, w - xj);
                    float *oj = o + (size_t)j * c;
                    int cj = c0;
                    for (; cj + 64 <= c; cj += 64)
                        depthwise_block(src, w, c, weights, bias, k, y0, ky0, ky1, xj, kx0, kx1, cj, 64, activation, oj);
                    for (; cj + 16 <= c; cj += 16)
                        depthwise_block(src, w, c, weights, bias, k, y0, ky0, ky1, xj, kx0, kx1, cj, 16, activation, oj);
                    if (cj < c)
                        depthwise_block(src, w, c, weights, bias, k, y0, ky0, ky1, xj, kx0, kx1, cj, c - cj, activation, oj);
                }
                ox += step;
            }
        }
    }
}

MULTIVERSION
void dx_bias_activation(float *restrict data, long rows, int c, const float *restrict bias, int activation) {
    for (long r = 0; r < rows; r++) {
        float *row = data + (size_t)r * c;
        if (activation == 0) {
            for (int j = 0; j < c; j++) row[j] += bias[j];
        } else if (activation == 1) {
            for (int j = 0; j < c; j++) { float v = row[j] + bias[j]; row[j] = v > 0 ? v : 0; }
        } else {
            for (int j = 0; j < c; j++) { float v = row[j] + bias[j]; row[j] = v > 0 ? (v < 6 ? v : 6) : 0; }
        }
    }
}

MULTIVERSION
void dx_add_activation(const float *restrict a, const float *restrict b, float *restrict out, long count, int activation) {
    if (activation == 0) {
        for (long i = 0; i < count; i++) out[i] = a[i] + b[i];
    } else if (activation == 1) {
        for (long i = 0; i < count; i++) { float v = a[i] + b[i]; out[i] = v > 0 ? v : 0; }
    } else {
        for (long i = 0; i < count; i++) { float v = a[i] + b[i]; out[i] = v > 0 ? (v < 6 ? v : 6) : 0; }
    }
}

MULTIVERSION
void dx_activation(const float *restrict in, float *restrict out, long count, int activation) {
    if (activation == 1) {
        for (long i = 0; i < count; i++) out[i] = in[i] > 0 ? in[i] : 0;
    } else if (activation == 2) {
        for (long i = 0; i < count; i++) out[i] = in[i] > 0 ? (in[i] < 6 ? in[i] : 6) : 0;
    } else if (in != out) {
        memcpy(out, in, (size_t)count * sizeof(float));
    }
}

/* Max over one output pixel's window rows [y0, y1) x columns [x0, x1), channels [c0, c0 + width),
 * kept in registers across the taps (width a compile-time constant after inlining), plus
 * `addend`'s value when given. */
static inline __attribute__((always_inline)) void max_block(const float *restrict src, int w, int c, int y0, int y1,
                                                            int x0, int x1, int c0, int width,
                                                            const float *restrict addend, float *restrict o) {
    float m[BLOCK];
    for (int j = 0; j < width; j++) m[j] = -FLT_MAX;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const float *p = src + ((size_t)y * w + x) * c + c0;
            for (int j = 0; j < width; j++) m[j] = m[j] > p[j] ? m[j] : p[j];
        }
    if (addend)
        for (int j = 0; j < width; j++) o[c0 + j] = m[j] + addend[c0 + j];
    else
        for (int j = 0; j < width; j++) o[c0 + j] = m[j];
}

MULTIVERSION
void dx_pool_nhwc(const float *restrict in, int n, int h, int w, int c, int k, int stride, int pad_top, int pad_left,
                  int oh, int ow, int average, const float *restrict addend, float *restrict out) {
    for (int img = 0; img < n; img++) {
        const float *src = in + (size_t)img * h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = imax(oy * stride - pad_top, 0), y1 = imin(oy * stride - pad_top + k, h);
            for (int ox = 0; ox < ow; ox++) {
                const int x0 = imax(ox * stride - pad_left, 0), x1 = imin(ox * stride - pad_left + k, w);
                const size_t at = (((size_t)img * oh + oy) * ow + ox) * c;
                float *o = out + at;
                const float *add = addend ? addend + at : 0;
                if (!average) {
                    int c0 = 0;
                    for (; c0 + BLOCK <= c; c0 += BLOCK) max_block(src, w, c, y0, y1, x0, x1, c0, BLOCK, add, o);
                    for (; c0 + 16 <= c; c0 += 16) max_block(src, w, c, y0, y1, x0, x1, c0, 16, add, o);
                    if (c0 < c) max_block(src, w, c, y0, y1, x0, x1, c0, c - c0, add, o);
                    continue;
                }
                for (int j = 0; j < c; j++) o[j] = 0.0f;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        const float *p = src + ((size_t)y * w + x) * c;
                        for (int j = 0; j < c; j++) o[j] += p[j];
                    }
                const float scale = 1.0f / (float)((y1 - y0) * (x1 - x0));
                for (int j = 0; j < c; j++) o[j] *= scale;
                if (add)
                    for (int j = 0; j < c; j++) o[j] += add[j];
            }
        }
    }
}

MULTIVERSION
void dx_activation_backward(const float *restrict out, float *restrict grad, long count, int activation) {
    if (activation == 1) {
        for (long i = 0; i < count; i++) grad[i] = out[i] > 0.f ? grad[i] : 0.f;
    } else if (activation == 2) {
        for (long i = 0; i < count; i++) grad[i] = ((out[i] > 0.f) & (out[i] < 6.f)) ? grad[i] : 0.f;
    }
}

/* One output pixel of a direct convolution, output channels [o0, o0 + width): accumulators in
 * registers across the window's taps (width a compile-time constant after inlining). */
static inline __attribute__((always_inline)) void direct_block(
    const float *restrict src, int w, int cin, int cout, const float *restrict weights, const float *restrict bias,
    int kw, int y0, int ky0, int ky1, int x0, int kx0, int kx1, int o0, int width, int activation, float *restrict o) {
    float acc[32];
    for (int j = 0; j < width; j++) acc[j] = bias[o0 + j];
    for (int ky = ky0; ky < ky1; ky++) {
        for (int kx = kx0; kx < kx1; kx++) {
            const float *p = src + ((size_t)(y0 + ky) * w + (x0 + kx)) * cin;
            const float *f = weights + (size_t)((ky * kw + kx) * cin) * cout + o0;
            for (int ci = 0; ci < cin; ci++) {
                const float v = p[ci];
                for (int j = 0; j < width; j++) acc[j] += v * f[(size_t)ci * cout + j];
            }
        }
    }
    for (int j = 0; j < width; j++) o[o0 + j] = act(acc[j], activation);
}

/* Four output pixels of a direct convolution, outputs [o0, o0 + 32), all four windows inside the
 * image horizontally (pixel j's window starts at x0 + j * stride): each weight vector is loaded
 * once for the four. Same summation order as direct_block. */
static inline __attribute__((always_inline)) void direct_x4(
    const float *restrict src, int w, int cin, int cout, const float *restrict weights, const float *restrict bias,
    int kw, int stride, int y0, int ky0, int ky1, int x0, int o0, int activation, float *restrict o) {
    float acc[4][32];
    for (int j = 0; j < 4; j++)
        for (int q = 0; q < 32; q++) acc[j][q] = bias[o0 + q];
    for (int ky = ky0; ky < ky1; ky++) {
        for (int kx = 0; kx < kw; kx++) {
            const float *p = src + ((size_t)(y0 + ky) * w + (x0 + kx)) * cin;
            const float *f = weights + (size_t)((ky * kw + kx) * cin) * cout + o0;
            for (int ci = 0; ci < cin; ci++) {
                for (int j = 0; j < 4; j++) {
                    const float v = p[(size_t)j * stride * cin + ci];
                    for (int q = 0; q < 32; q++) acc[j][q] += v * f[(size_t)ci * cout + q];
                }
            }
        }
    }
    for (int j = 0; j < 4; j++)
        for (int q = 0; q < 32; q++) o[(size_t)j * cout + o0 + q] = act(acc[j][q], activation);
}

MULTIVERSION
void dx_conv_direct_nhwc(const float *restrict in, int n, int h, int w, int cin, const float *restrict weights,
                         const float *restrict bias, int cout, int kh, int kw, int stride, int pad_top, int pad_left,
                         int oh, int ow, int activation, float *restrict out) {
    for (int img = 0; img < n; img++) {
        const float *src = in + (size_t)img * h * w * cin;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * stride - pad_top;
            const int ky0 = imax(0, -y0), ky1 = imin(kh, h - y0);
            int ox = 0;
            while (ox < ow) {
                const int x0 = ox * stride - pad_left;
                float *o = out + (((size_t)img * oh + oy) * ow + ox) * cout;
                int o0 = 0, step = 1;
                if (x0 >= 0 && x0 + 3 * stride + kw <= w && ox + 4 <= ow) {
                    for (; o0 + 32 <= cout; o0 += 32)
                        direct_x4(src, w, cin, cout, weights, bias, kw, stride, y0, ky0, ky1, x0, o0, activation, o);
                    step = 4;
                }
                for (int j = 0; j < step; j++) {
                    const int xj = x0 + j * stride;
                    const int kx0 = imax(0, -xj), kx1 = imin(kw, w - xj);
                    float *oj = o + (size_t)j * cout;
                    int oj0 = o0;
                    for (; oj0 + 32 <= cout; oj0 += 32)
                        direct_block(src, w, cin, cout, weights, bias, kw, y0, ky0, ky1, xj, kx0, kx1, oj0, 32, activation, oj);
                    for (; oj0 + 8 <= cout; oj0 += 8)
                        direct_block(src, w, cin, cout, weights, bias, kw, y0, ky0, ky1, xj, kx0, kx1, oj0, 8, activation, oj);
                    for (; oj0 < cout; oj0++)
                        direct_block(src, w, cin, cout, weights, bias, kw, y0, ky0, ky1, xj, kx0, kx1, oj0, 1, activation, oj);
                }
                ox += step;
            }
        }
    }
}
