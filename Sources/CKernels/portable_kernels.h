/* portable_kernels.h — the engine's kernels in plain C (see dxkernels.h), written so that the compiler
 * keeps a block's accumulators in vector registers. kernels.c includes this file once per
 * instruction set, inside a region compiled for that set, with DX_FN(name) naming that copy
 * (name_avx512, name_avx2, name_generic) and DX_DW_ROWS the set's depthwise row kernel (0 for none);
 * the public functions dispatch to the copy their caller's `isa` names. Every function computes each output the
 * same way whichever image, row or block it belongs to. */

#ifndef DX_PORTABLE_CONSTANTS
#define DX_PORTABLE_CONSTANTS
#define BLOCK 64
/* Winograd: channels transformed together (one AVX-512 register, two AVX2 ones). */
#define CB 16
#endif
/* The direct (stem) kernel's block of outputs: four pixels x DX_DIRECT_W accumulators, two vector
 * registers a pixel (DX_DIRECT_W is 32 with AVX-512, 16 with AVX2, 8 otherwise, set before each copy):
 * eight registers, room left for the weights and the broadcast input. */


static inline float DX_FN(act)(float v, int activation) {
    if (activation == 1) return v > 0 ? v : 0;
    if (activation == 2) return v > 0 ? (v < 6 ? v : 6) : 0;
    return v;
}

static inline int DX_FN(imax)(int a, int b) { return a > b ? a : b; }
static inline int DX_FN(imin)(int a, int b) { return a < b ? a : b; }

/* One output pixel, channels [c0, c0 + width): the accumulators stay in registers across taps
 * when `width` is a compile-time constant (64 = four AVX-512 registers). */
static inline __attribute__((always_inline)) void DX_FN(depthwise_block)(
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
    for (int j = 0; j < width; j++) o[c0 + j] = DX_FN(act)(acc[j], activation);
}

/* Four adjacent output pixels of a stride-1 depthwise convolution with a K x K kernel, channels
 * [c0, c0 + CB), every tap inside the image horizontally: each input vector is loaded once for
 * the outputs that use it and each tap's weights once per kernel row. Taps are added in the same
 * order as DX_FN(depthwise_block) (row by row, left to right), so results are identical. */
#define DEPTHWISE_X4(K, CB, NAME, INSIDE)                                                                    \
static inline __attribute__((always_inline)) void DX_FN(depthwise_x4_k##K##_c##CB##NAME)(                           \
    const float *restrict src, int w, int c, const float *restrict weights, const float *restrict bias,       \
    int y0, int ky0, int ky1, int x0, int c0, int activation, float *restrict o) {                            \
    float acc[4][CB];                                                                                        \
    DX_UNROLL for (int j = 0; j < 4; j++)                                                                              \
        for (int q = 0; q < CB; q++) acc[j][q] = bias[c0 + q];                                               \
    for (int ky = ky0; ky < ky1; ky++) {                                                                     \
        const float *f = weights + (size_t)(ky * K) * c + c0;                                                \
        DX_UNROLL for (int p = 0; p < 4 + K - 1; p++) {                                                                \
            if (!(INSIDE) && (x0 + p < 0 || x0 + p >= w)) continue; /* padding contributes nothing */        \
            const float *in = src + ((size_t)(y0 + ky) * w + (x0 + p)) * c + c0;                             \
            DX_UNROLL for (int kx = 0; kx < K; kx++) {                                                                 \
                const int j = p - kx;                                                                        \
                if (j >= 0 && j < 4)                                                                         \
                    for (int q = 0; q < CB; q++) acc[j][q] += f[(size_t)kx * c + q] * in[q];                 \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
    DX_UNROLL for (int j = 0; j < 4; j++)                                                                              \
        for (int q = 0; q < CB; q++) o[(size_t)j * c + c0 + q] = DX_FN(act)(acc[j][q], activation);                 \
}
DEPTHWISE_X4(3, 32, , 1) DEPTHWISE_X4(3, 16, , 1) DEPTHWISE_X4(5, 32, , 1) DEPTHWISE_X4(5, 16, , 1)
DEPTHWISE_X4(5, 32, _edge, 0) DEPTHWISE_X4(5, 16, _edge, 0)

/* Returns the first channel not done by the four-pixel blocks (`edge`: some taps fall in the
 * horizontal padding and are skipped). */
#define DEPTHWISE_X4_CHANNELS(K, NAME)                                                                       \
    for (; c0 + 32 <= c; c0 += 32) DX_FN(depthwise_x4_k##K##_c32##NAME)(src, w, c, weights, bias, y0, ky0, ky1, x0, c0, activation, o); \
    for (; c0 + 16 <= c; c0 += 16) DX_FN(depthwise_x4_k##K##_c16##NAME)(src, w, c, weights, bias, y0, ky0, ky1, x0, c0, activation, o);
static inline __attribute__((always_inline)) int DX_FN(depthwise_x4)(
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

void DX_FN(dx_depthwise_nhwc)(const float *restrict in, int n, int h, int w, int c, const float *restrict weights,
                       const float *restrict bias, int k, int stride, int pad_top, int pad_left, int oh, int ow,
                       int activation, float *restrict out) {
    const int blocked = stride == 1 && (k == 3 || k == 5);
    for (int img = 0; img < n; img++) {
        const float *src = in + (size_t)img * h * w * c;
        if (DX_DW_ROWS(src, h, w, c, weights, bias, k, stride, pad_top, pad_left, 0, oh, ow, activation,
                              out + (size_t)img * oh * ow * c))
            continue;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * stride - pad_top;
            const int ky0 = DX_FN(imax)(0, -y0), ky1 = DX_FN(imin)(k, h - y0);
            int ox = 0;
            while (ox < ow) {
                const int x0 = ox * stride - pad_left;
                float *o = out + (((size_t)img * oh + oy) * ow + ox) * c;
                int c0 = 0, step = 1;
                const int edge = !(x0 >= 0 && x0 + 3 + k <= w);
                /* Four windows (with 5x5 kernels also where some taps fall in the padding, as on the
                 * small late maps; measured slower for 3x3): blocked channels, then the rest pixel by pixel. */
                if (blocked && ox + 4 <= ow && (!edge || k == 5)) {
                    c0 = DX_FN(depthwise_x4)(src, w, c, weights, bias, k, y0, ky0, ky1, x0, edge, activation, o);
                    step = 4;
                }
                for (int j = 0; j < step; j++) {
                    const int xj = x0 + j;
                    const int kx0 = DX_FN(imax)(0, -xj), kx1 = DX_FN(imin)(k, w - xj);
                    float *oj = o + (size_t)j * c;
                    int cj = c0;
                    for (; cj + 64 <= c; cj += 64)
                        DX_FN(depthwise_block)(src, w, c, weights, bias, k, y0, ky0, ky1, xj, kx0, kx1, cj, 64, activation, oj);
                    for (; cj + 16 <= c; cj += 16)
                        DX_FN(depthwise_block)(src, w, c, weights, bias, k, y0, ky0, ky1, xj, kx0, kx1, cj, 16, activation, oj);
                    if (cj < c)
                        DX_FN(depthwise_block)(src, w, c, weights, bias, k, y0, ky0, ky1, xj, kx0, kx1, cj, c - cj, activation, oj);
                }
                ox += step;
            }
        }
    }
}

void DX_FN(dx_bias_activation)(float *restrict data, long rows, int c, const float *restrict bias, int activation) {
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

void DX_FN(dx_scale_bias_activation)(const float *restrict in, float *restrict out, long rows, int c,
                                     const float *restrict scale, const float *restrict bias, int activation) {
    for (long r = 0; r < rows; r++) {
        const float *x = in + (size_t)r * c;
        float *o = out + (size_t)r * c;
        if (activation == 0) {
            for (int j = 0; j < c; j++) o[j] = x[j] * scale[j] + bias[j];
        } else if (activation == 1) {
            for (int j = 0; j < c; j++) { float v = x[j] * scale[j] + bias[j]; o[j] = v > 0 ? v : 0; }
        } else {
            for (int j = 0; j < c; j++) { float v = x[j] * scale[j] + bias[j]; o[j] = v > 0 ? (v < 6 ? v : 6) : 0; }
        }
    }
}

void DX_FN(dx_add_activation)(const float *restrict a, const float *restrict b, float *restrict out, long count, int activation) {
    if (activation == 0) {
        for (long i = 0; i < count; i++) out[i] = a[i] + b[i];
    } else if (activation == 1) {
        for (long i = 0; i < count; i++) { float v = a[i] + b[i]; out[i] = v > 0 ? v : 0; }
    } else {
        for (long i = 0; i < count; i++) { float v = a[i] + b[i]; out[i] = v > 0 ? (v < 6 ? v : 6) : 0; }
    }
}

void DX_FN(dx_activation)(const float *restrict in, float *restrict out, long count, int activation) {
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
static inline __attribute__((always_inline)) void DX_FN(max_block)(const float *restrict src, int w, int c, int y0, int y1,
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

void DX_FN(dx_pool_nhwc)(const float *restrict in, int n, int h, int w, int c, int k, int stride, int pad_top, int pad_left,
                  int oh, int ow, int average, const float *restrict addend, float *restrict out) {
    for (int img = 0; img < n; img++) {
        const float *src = in + (size_t)img * h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = DX_FN(imax)(oy * stride - pad_top, 0), y1 = DX_FN(imin)(oy * stride - pad_top + k, h);
            for (int ox = 0; ox < ow; ox++) {
                const int x0 = DX_FN(imax)(ox * stride - pad_left, 0), x1 = DX_FN(imin)(ox * stride - pad_left + k, w);
                const size_t at = (((size_t)img * oh + oy) * ow + ox) * c;
                float *o = out + at;
                const float *add = addend ? addend + at : 0;
                if (!average) {
                    int c0 = 0;
                    for (; c0 + BLOCK <= c; c0 += BLOCK) DX_FN(max_block)(src, w, c, y0, y1, x0, x1, c0, BLOCK, add, o);
                    for (; c0 + 16 <= c; c0 += 16) DX_FN(max_block)(src, w, c, y0, y1, x0, x1, c0, 16, add, o);
                    if (c0 < c) DX_FN(max_block)(src, w, c, y0, y1, x0, x1, c0, c - c0, add, o);
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

void DX_FN(dx_activation_backward)(const float *restrict out, float *restrict grad, long count, int activation) {
    if (activation == 1) {
        for (long i = 0; i < count; i++) grad[i] = out[i] > 0.f ? grad[i] : 0.f;
    } else if (activation == 2) {
        for (long i = 0; i < count; i++) grad[i] = ((out[i] > 0.f) & (out[i] < 6.f)) ? grad[i] : 0.f;
    }
}

/* One output pixel of a direct convolution, output channels [o0, o0 + width): accumulators in
 * registers across the window's taps (width a compile-time constant after inlining). */
static inline __attribute__((always_inline)) void DX_FN(direct_block)(
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
    for (int j = 0; j < width; j++) o[o0 + j] = DX_FN(act)(acc[j], activation);
}

/* Four output pixels of a direct convolution, outputs [o0, o0 + DX_DIRECT_W), all four windows inside the
 * image horizontally (pixel j's window starts at x0 + j * stride): each weight vector is loaded
 * once for the four. Same summation order as direct_block. */
static inline __attribute__((always_inline)) void DX_FN(direct_x4)(
    const float *restrict src, int w, int cin, int cout, const float *restrict weights, const float *restrict bias,
    int kw, int stride, int y0, int ky0, int ky1, int x0, int o0, int activation, float *restrict o) {
    float acc[4][DX_DIRECT_W];
    DX_UNROLL for (int j = 0; j < 4; j++)
        for (int q = 0; q < DX_DIRECT_W; q++) acc[j][q] = bias[o0 + q];
    for (int ky = ky0; ky < ky1; ky++) {
        for (int kx = 0; kx < kw; kx++) {
            const float *p = src + ((size_t)(y0 + ky) * w + (x0 + kx)) * cin;
            const float *f = weights + (size_t)((ky * kw + kx) * cin) * cout + o0;
            for (int ci = 0; ci < cin; ci++) {
                DX_UNROLL for (int j = 0; j < 4; j++) {
                    const float v = p[(size_t)j * stride * cin + ci];
                    for (int q = 0; q < DX_DIRECT_W; q++) acc[j][q] += v * f[(size_t)ci * cout + q];
                }
            }
        }
    }
    DX_UNROLL for (int j = 0; j < 4; j++)
        for (int q = 0; q < DX_DIRECT_W; q++) o[(size_t)j * cout + o0 + q] = DX_FN(act)(acc[j][q], activation);
}

void DX_FN(dx_conv_direct_nhwc)(const float *restrict in, int n, int h, int w, int cin, const float *restrict weights,
                         const float *restrict bias, int cout, int kh, int kw, int stride, int pad_top, int pad_left,
                         int oh, int ow, int activation, float *restrict out) {
    for (int img = 0; img < n; img++) {
        const float *src = in + (size_t)img * h * w * cin;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * stride - pad_top;
            const int ky0 = DX_FN(imax)(0, -y0), ky1 = DX_FN(imin)(kh, h - y0);
            int ox = 0;
            while (ox < ow) {
                const int x0 = ox * stride - pad_left;
                float *o = out + (((size_t)img * oh + oy) * ow + ox) * cout;
                int o0 = 0, step = 1;
                if (x0 >= 0 && x0 + 3 * stride + kw <= w && ox + 4 <= ow) {
                    for (; o0 + DX_DIRECT_W <= cout; o0 += DX_DIRECT_W)
                        DX_FN(direct_x4)(src, w, cin, cout, weights, bias, kw, stride, y0, ky0, ky1, x0, o0, activation, o);
                    step = 4;
                }
                for (int j = 0; j < step; j++) {
                    const int xj = x0 + j * stride;
                    const int kx0 = DX_FN(imax)(0, -xj), kx1 = DX_FN(imin)(kw, w - xj);
                    float *oj = o + (size_t)j * cout;
                    int oj0 = o0;
                    for (; oj0 + DX_DIRECT_W <= cout; oj0 += DX_DIRECT_W)
                        DX_FN(direct_block)(src, w, cin, cout, weights, bias, kw, y0, ky0, ky1, xj, kx0, kx1, oj0, DX_DIRECT_W, activation, oj);
                    for (; oj0 + 8 <= cout; oj0 += 8)
                        DX_FN(direct_block)(src, w, cin, cout, weights, bias, kw, y0, ky0, ky1, xj, kx0, kx1, oj0, 8, activation, oj);
                    for (; oj0 < cout; oj0++)
                        DX_FN(direct_block)(src, w, cin, cout, weights, bias, kw, y0, ky0, ky1, xj, kx0, kx1, oj0, 1, activation, oj);
                }
                ox += step;
            }
        }
    }
}

/* NCHW → NHWC (a network's input): planes of `plane` values, `c` of them an image. */
void DX_FN(dx_nchw_to_nhwc)(const float *restrict in, int n, int c, long plane, float *restrict out) {
    for (int img = 0; img < n; img++) {
        const float *x = in + (size_t)img * c * plane;
        float *o = out + (size_t)img * c * plane;
        if (c == 3) {  /* RGB: three planes interleaved */
            const float *r = x, *g = x + plane, *b = x + 2 * plane;
            for (long p = 0; p < plane; p++) { o[3 * p] = r[p]; o[3 * p + 1] = g[p]; o[3 * p + 2] = b[p]; }
        } else {
            for (long p = 0; p < plane; p++)
                for (int ch = 0; ch < c; ch++) o[p * c + ch] = x[(size_t)ch * plane + p];
        }
    }
}

/* ---- Winograd F(4x4, 3x3) transforms (winograd.c runs the GEMMs between them) ---- */

/* Bᵀ x along one axis: x[0..5] (stride apart, `width` channels each) → out[0..5]. */
static inline __attribute__((always_inline)) void DX_FN(input_1d)(const float *const x[6], float *const out[6], int width) {
    for (int q = 0; q < width; q++) {
        const float d0 = x[0][q], d1 = x[1][q], d2 = x[2][q], d3 = x[3][q], d4 = x[4][q], d5 = x[5][q];
        out[0][q] = 4.f * d0 - 5.f * d2 + d4;
        out[1][q] = -4.f * d1 - 4.f * d2 + d3 + d4;
        out[2][q] = 4.f * d1 - 4.f * d2 - d3 + d4;
        out[3][q] = -2.f * d1 - d2 + 2.f * d3 + d4;
        out[4][q] = 2.f * d1 - d2 - 2.f * d3 + d4;
        out[5][q] = 4.f * d1 - 5.f * d3 + d5;
    }
}

/* One tile's Bᵀ d B for channels [c0, c0 + width) into v[e][tile][ci] (e = 6 i + j). */
static inline __attribute__((always_inline)) void DX_FN(input_tile)(const float *in, int h, int w, int cin, int y0, int x0,
                                                             int c0, int width, float *v, size_t e_stride) {
    static const float zeros[CB] = {0};
    float t[6][6][CB];
    DX_UNROLL for (int i = 0; i < 6; i++) {
        const int y = y0 + i;
        const float *x[6];
        float *o[6];
        DX_UNROLL for (int j = 0; j < 6; j++) {
            const int xx = x0 + j;
            x[j] = (y >= 0 && y < h && xx >= 0 && xx < w) ? in + ((size_t)y * w + xx) * cin + c0 : zeros;
            o[j] = t[i][j];
        }
        DX_FN(input_1d)(x, o, width);
    }
    DX_UNROLL for (int j = 0; j < 6; j++) {
        const float *x[6];
        float *o[6];
        DX_UNROLL for (int i = 0; i < 6; i++) { x[i] = t[i][j]; o[i] = v + (size_t)(i * 6 + j) * e_stride + c0; }
        DX_FN(input_1d)(x, o, width);
    }
}

/* Aᵀ along one axis: m[0..5] → out[0..3]. */
static inline __attribute__((always_inline)) void DX_FN(output_1d)(const float *const m[6], float *const out[4], int width) {
    for (int q = 0; q < width; q++) {
        const float m0 = m[0][q], m1 = m[1][q], m2 = m[2][q], m3 = m[3][q], m4 = m[4][q], m5 = m[5][q];
        const float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
        out[0][q] = m0 + a + c;
        out[1][q] = b + 2.f * d;
        out[2][q] = a + 4.f * c;
        out[3][q] = b + 8.f * d + m5;
    }
}

/* One tile's Aᵀ M A + bias, activation, for outputs [c0, c0 + width) (rows/columns past the
 * output's edge are not stored). */
static inline __attribute__((always_inline)) void DX_FN(output_tile)(const float *m, size_t e_stride, const float *bias,
                                                              int activation, int cout, int oh, int ow, int oy, int ox,
                                                              int c0, int width, float *out) {
    float s[6][4][CB], y[4][4][CB];
    DX_UNROLL for (int i = 0; i < 6; i++) {
        const float *x[6];
        float *o[4];
        DX_UNROLL for (int j = 0; j < 6; j++) x[j] = m + (size_t)(i * 6 + j) * e_stride + c0;
        DX_UNROLL for (int j = 0; j < 4; j++) o[j] = s[i][j];
        DX_FN(output_1d)(x, o, width);
    }
    DX_UNROLL for (int j = 0; j < 4; j++) {
        const float *x[6];
        float *o[4];
        DX_UNROLL for (int i = 0; i < 6; i++) x[i] = s[i][j];
        DX_UNROLL for (int i = 0; i < 4; i++) o[i] = y[i][j];
        DX_FN(output_1d)(x, o, width);
    }
    for (int i = 0; i < 4 && oy + i < oh; i++)
        for (int j = 0; j < 4 && ox + j < ow; j++) {
            float *dst = out + ((size_t)(oy + i) * ow + ox + j) * cout + c0;
            for (int q = 0; q < width; q++) dst[q] = DX_FN(act)(y[i][j][q] + bias[c0 + q], activation);
        }
}

void DX_FN(dx_winograd_input_band)(const float *in, int h, int w, int cin, int pad_top, int pad_left, int ow, int tr0,
                                   int tr1, float *v, size_t e_stride) {
    const int per_row = (ow + 3) / 4;
    for (int tr = tr0; tr < tr1; tr++)
        for (int tc = 0; tc < per_row; tc++) {
            float *vt = v + ((size_t)(tr - tr0) * per_row + tc) * cin;
            const int y0 = tr * 4 - pad_top, x0 = tc * 4 - pad_left;
            int c0 = 0;
            for (; c0 + CB <= cin; c0 += CB) DX_FN(input_tile)(in, h, w, cin, y0, x0, c0, CB, vt, e_stride);
            if (c0 < cin) DX_FN(input_tile)(in, h, w, cin, y0, x0, c0, cin - c0, vt, e_stride);
        }
}

void DX_FN(dx_winograd_output_band)(const float *m, size_t e_stride, int cout, const float *bias, int activation, int oh,
                                    int ow, int tr0, int tr1, float *out) {
    const int per_row = (ow + 3) / 4;
    for (int tr = tr0; tr < tr1; tr++)
        for (int tc = 0; tc < per_row; tc++) {
            const float *mt = m + ((size_t)(tr - tr0) * per_row + tc) * cout;
            int c0 = 0;
            for (; c0 + CB <= cout; c0 += CB) DX_FN(output_tile)(mt, e_stride, bias, activation, cout, oh, ow, tr * 4, tc * 4, c0, CB, out);
            if (c0 < cout) DX_FN(output_tile)(mt, e_stride, bias, activation, cout, oh, ow, tr * 4, tc * 4, c0, cout - c0, out);
        }
}
