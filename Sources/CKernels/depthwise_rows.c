/* depthwise_rows.c — 3x3 and 5x5 stride-1 depthwise convolution along output rows with AVX-512F
 * (see depthwise_rows.h). For a block of channels (32 with 3x3 kernels, 16 with 5x5: the taps'
 * weights take 18 or 25 registers) the weights stay in registers while the row is walked four
 * outputs at a time: each input vector is loaded once for the outputs that use it, and taps
 * falling in the padding are skipped, so edge columns and small maps take the same path as the
 * interior. Taps are added in the portable kernel's order (bias, then row by row, left to right). */
#include "depthwise_rows.h"

#if defined(__x86_64__)
#include <immintrin.h>

static inline __attribute__((target("avx512f"), always_inline)) __m512 act512(__m512 v, int activation) {
    if (activation >= 1) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (activation == 2) v = _mm512_min_ps(v, _mm512_set1_ps(6.f));
    return v;
}

/* NX adjacent outputs starting at column ox, channels [c0, c0 + 32) under masks m0/m1; WT0(t)/WT1(t)
 * give tap t's weights for the two halves. */
#define GROUP(NX, WT0, WT1)                                                                                \
    do {                                                                                                   \
        __m512 a0[NX], a1[NX];                                                                             \
        for (int j = 0; j < NX; j++) { a0[j] = b0; a1[j] = b1; }                                          \
        for (int ky = 0; ky < 3; ky++) {                                                                   \
            if (!rows[ky]) continue;                                                                       \
            for (int p = 0; p < NX + 2; p++) {                                                             \
                const int ix = ox + p - pad_left;                                                          \
                if (ix < 0 || ix >= w) continue;                                                           \
                const float *in = rows[ky] + (size_t)ix * c;                                               \
                const __m512 v0 = _mm512_maskz_loadu_ps(m0, in), v1 = _mm512_maskz_loadu_ps(m1, in + 16);  \
                for (int kx = 0; kx < 3; kx++) {                                                           \
                    const int j = p - kx;                                                                  \
                    if (j >= 0 && j < NX) {                                                                \
                        a0[j] = _mm512_fmadd_ps(WT0(ky * 3 + kx), v0, a0[j]);                              \
                        a1[j] = _mm512_fmadd_ps(WT1(ky * 3 + kx), v1, a1[j]);                              \
                    }                                                                                      \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (int j = 0; j < NX; j++) {                                                                     \
            float *dst = o + (size_t)(ox + j) * c + c0;                                                       \
            _mm512_mask_storeu_ps(dst, m0, act512(a0[j], activation));                                     \
            _mm512_mask_storeu_ps(dst + 16, m1, act512(a1[j], activation));                                \
        }                                                                                                  \
    } while (0)

#define REG0(t) wt0[t]
#define REG1(t) wt1[t]
/* One output row, 32 channels at a time along the whole row, the taps' weights held in registers
 * (measured here against walking four outputs at a time with every channel and the weights read
 * from L1: faster on every Xception map, 9x9x728 to 72x72x128). */
__attribute__((target("avx512f")))
static void row_avx512(const float *src, int h, int w, int c, const float *weights, const float *bias, int y0,
                       int pad_left, int ow, int activation, float *o) {
    for (int c0 = 0; c0 < c; c0 += 32) {
        const int left = c - c0;
        const __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        const __mmask16 m1 = left >= 32 ? 0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
        __m512 wt0[9], wt1[9];
        for (int t = 0; t < 9; t++) {
            wt0[t] = _mm512_maskz_loadu_ps(m0, weights + (size_t)t * c + c0);
            wt1[t] = _mm512_maskz_loadu_ps(m1, weights + (size_t)t * c + c0 + 16);
        }
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias + c0), b1 = _mm512_maskz_loadu_ps(m1, bias + c0 + 16);
        const float *rows[3];
        for (int ky = 0; ky < 3; ky++)
            rows[ky] = y0 + ky >= 0 && y0 + ky < h ? src + (size_t)(y0 + ky) * w * c + c0 : 0;
        /* The next output row's new input row, brought towards L2 as this one is walked (large
         * maps come from L3 or memory). */
        const float *next = y0 + 3 < h ? src + (size_t)(y0 + 3) * w * c + c0 : 0;
        int ox = 0;
        for (; ox + 4 <= ow; ox += 4) {
            if (next)
                for (int j = 0; j < 4; j++) {
                    const int ix = ox + j + 2 - pad_left;
                    if (ix >= 0 && ix < w) {
                        _mm_prefetch((const char *)(next + (size_t)ix * c), _MM_HINT_T1);
                        _mm_prefetch((const char *)(next + (size_t)ix * c + 16), _MM_HINT_T1);
                    }
                }
            GROUP(4, REG0, REG1);
        }
        if (ox + 2 <= ow) { GROUP(2, REG0, REG1); ox += 2; }
        if (ox < ow) GROUP(1, REG0, REG1);
    }
}

/* NX adjacent outputs of a 5x5 kernel starting at column ox, channels [c0, c0 + 16) under mask m0. */
#define GROUP5(NX)                                                                                         \
    do {                                                                                                   \
        __m512 a[NX];                                                                                      \
        for (int j = 0; j < NX; j++) a[j] = b0;                                                            \
        for (int ky = 0; ky < 5; ky++) {                                                                   \
            if (!rows[ky]) continue;                                                                       \
            for (int p = 0; p < NX + 4; p++) {                                                             \
                const int ix = ox + p - pad_left;                                                          \
                if (ix < 0 || ix >= w) continue;                                                           \
                const __m512 v = _mm512_maskz_loadu_ps(m0, rows[ky] + (size_t)ix * c);                     \
                for (int kx = 0; kx < 5; kx++) {                                                           \
                    const int j = p - kx;                                                                  \
                    if (j >= 0 && j < NX) a[j] = _mm512_fmadd_ps(wt[ky * 5 + kx], v, a[j]);                \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (int j = 0; j < NX; j++)                                                                       \
            _mm512_mask_storeu_ps(o + (size_t)(ox + j) * c + c0, m0, act512(a[j], activation));            \
    } while (0)

/* One output row of a 5x5 kernel, 16 channels at a time along the whole row. */
__attribute__((target("avx512f")))
static void row5_avx512(const float *src, int h, int w, int c, const float *weights, const float *bias, int y0,
                        int pad_left, int ow, int activation, float *o) {
    for (int c0 = 0; c0 < c; c0 += 16) {
        const int left = c - c0;
        const __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        __m512 wt[25];
        for (int t = 0; t < 25; t++) wt[t] = _mm512_maskz_loadu_ps(m0, weights + (size_t)t * c + c0);
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias + c0);
        const float *rows[5];
        for (int ky = 0; ky < 5; ky++)
            rows[ky] = y0 + ky >= 0 && y0 + ky < h ? src + (size_t)(y0 + ky) * w * c + c0 : 0;
        int ox = 0;
        for (; ox + 4 <= ow; ox += 4) GROUP5(4);
        if (ox + 2 <= ow) { GROUP5(2); ox += 2; }
        if (ox < ow) GROUP5(1);
    }
}

int dx_depthwise_s1_rows(const float *src, int h, int w, int c, const float *weights, const float *bias, int k,
                         int pad_top, int pad_left, int oy0, int oy1, int ow, int activation, float *out) {
    if ((k != 3 && k != 5) || !__builtin_cpu_supports("avx512f")) return 0;
    for (int oy = oy0; oy < oy1; oy++) {
        float *o = out + (size_t)oy * ow * c;
        if (k == 3) row_avx512(src, h, w, c, weights, bias, oy - pad_top, pad_left, ow, activation, o);
        else row5_avx512(src, h, w, c, weights, bias, oy - pad_top, pad_left, ow, activation, o);
    }
    return 1;
}

#else
int dx_depthwise_s1_rows(const float *src, int h, int w, int c, const float *weights, const float *bias, int k,
                         int pad_top, int pad_left, int oy0, int oy1, int ow, int activation, float *out) {
    (void)src; (void)h; (void)w; (void)c; (void)weights; (void)bias; (void)k; (void)pad_top; (void)pad_left;
    (void)oy0; (void)oy1; (void)ow; (void)activation; (void)out;
    return 0;
}
#endif
