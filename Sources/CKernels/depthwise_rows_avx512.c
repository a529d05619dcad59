/* depthwise_rows_avx512.c — 3x3 and 5x5 depthwise convolution, stride 1 or 2, along output rows
 * with AVX-512 (dx_depthwise_rows_avx512, see internal.h). For a block of channels (32 with 3x3 kernels, 16 with 5x5: the
 * taps' weights take 18 or 25 registers) the weights stay in registers while the row is walked
 * four outputs at a time: each input vector is loaded once for the outputs that use it, and taps
 * falling in the padding are skipped, so edge columns and small maps take the same path as the
 * interior. Taps are added in the portable kernel's order (bias, then row by row, left to right). */
#include "internal.h"

#if DX_X86
#include <immintrin.h>

DX_BEGIN_AVX512

static inline __attribute__((always_inline)) __m512 act512(__m512 v, int activation) {
    if (activation >= 1) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (activation == 2) v = _mm512_min_ps(v, _mm512_set1_ps(6.f));
    return v;
}

/* NX adjacent outputs starting at column ox, stride S, K x K taps, channels [c0, c0 + 16 * HALVES)
 * under masks m0 (and m1): the window of output j starts at input column S (ox + j) - pad_left. */
#define GROUP(K, S, HALVES, NX)                                                                            \
    do {                                                                                                   \
        __m512 a0[NX], a1[NX];                                                                             \
        DX_UNROLL for (int j = 0; j < NX; j++) { a0[j] = b0; if (HALVES == 2) a1[j] = b1; }                         \
        DX_UNROLL for (int ky = 0; ky < K; ky++) {                                                                   \
            if (!rows[ky]) continue;                                                                       \
            DX_UNROLL for (int p = 0; p < (NX - 1) * S + K; p++) {                                                   \
                const int ix = ox * S + p - pad_left;                                                      \
                if (ix < 0 || ix >= w) continue;                                                           \
                const float *in = rows[ky] + (size_t)ix * c;                                               \
                const __m512 v0 = _mm512_maskz_loadu_ps(m0, in);                                           \
                const __m512 v1 = HALVES == 2 ? _mm512_maskz_loadu_ps(m1, in + 16) : v0;                   \
                DX_UNROLL for (int kx = 0; kx < K; kx++) {                                                           \
                    const int j = (p - kx) / S;                                                            \
                    if (p >= kx && (p - kx) % S == 0 && j < NX) {                                          \
                        a0[j] = _mm512_fmadd_ps(wt0[ky * K + kx], v0, a0[j]);                              \
                        if (HALVES == 2) a1[j] = _mm512_fmadd_ps(wt1[ky * K + kx], v1, a1[j]);             \
                    }                                                                                      \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        DX_UNROLL for (int j = 0; j < NX; j++) {                                                                     \
            float *dst = o + (size_t)(ox + j) * c + c0;                                                    \
            _mm512_mask_storeu_ps(dst, m0, act512(a0[j], activation));                                     \
            if (HALVES == 2) _mm512_mask_storeu_ps(dst + 16, m1, act512(a1[j], activation));               \
        }                                                                                                  \
    } while (0)

/* One output row (its window's top at input row y0), 16 * HALVES channels at a time along the
 * whole row, the taps' weights held in registers (measured here against walking four outputs at
 * a time with every channel and the weights read from L1: faster on every Xception map, 9x9x728
 * to 72x72x128). With stride 1 the next output row's new input row is brought towards L2 as this
 * one is walked (large maps come from L3 or memory). */
#define ROW(K, S, HALVES)                                                                                  \
static void row_k##K##_s##S(const float *src, int h, int w, int c, const float *weights, const float *bias,   \
                            int y0, int pad_left, int ow, int activation, float *o) {                      \
    for (int c0 = 0; c0 < c; c0 += 16 * HALVES) {                                                          \
        const int left = c - c0;                                                                           \
        const __mmask16 m0 = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);                         \
        const __mmask16 m1 = left >= 32 ? 0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;  \
        __m512 wt0[K * K], wt1[HALVES == 2 ? K * K : 1];                                                   \
        DX_UNROLL for (int t = 0; t < K * K; t++) {                                                                  \
            wt0[t] = _mm512_maskz_loadu_ps(m0, weights + (size_t)t * c + c0);                              \
            if (HALVES == 2) wt1[t] = _mm512_maskz_loadu_ps(m1, weights + (size_t)t * c + c0 + 16);       \
        }                                                                                                  \
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias + c0);                                            \
        const __m512 b1 = HALVES == 2 ? _mm512_maskz_loadu_ps(m1, bias + c0 + 16) : b0;                    \
        const float *rows[K];                                                                              \
        DX_UNROLL for (int ky = 0; ky < K; ky++)                                                                     \
            rows[ky] = y0 + ky >= 0 && y0 + ky < h ? src + (size_t)(y0 + ky) * w * c + c0 : 0;             \
        const float *next = S == 1 && y0 + K < h ? src + (size_t)(y0 + K) * w * c + c0 : 0;                \
        int ox = 0;                                                                                        \
        for (; ox + 4 <= ow; ox += 4) {                                                                    \
            if (next)                                                                                      \
                DX_UNROLL for (int j = 0; j < 4; j++) {                                                              \
                    const int ix = ox + j + K - 1 - pad_left;                                              \
                    if (ix >= 0 && ix < w) {                                                               \
                        _mm_prefetch((const char *)(next + (size_t)ix * c), _MM_HINT_T1);                  \
                        if (HALVES == 2) _mm_prefetch((const char *)(next + (size_t)ix * c + 16), _MM_HINT_T1); \
                    }                                                                                      \
                }                                                                                          \
            GROUP(K, S, HALVES, 4);                                                                        \
        }                                                                                                  \
        if (ox + 2 <= ow) { GROUP(K, S, HALVES, 2); ox += 2; }                                             \
        if (ox < ow) GROUP(K, S, HALVES, 1);                                                               \
    }                                                                                                      \
}
ROW(3, 1, 2) ROW(3, 2, 2) ROW(5, 1, 1) ROW(5, 2, 1)

typedef void (*row_fn)(const float *, int, int, int, const float *, const float *, int, int, int, int, float *);

int dx_depthwise_rows_avx512(DX_DW_ROWS_ARGS) {
    if ((k != 3 && k != 5) || (stride != 1 && stride != 2)) return 0;
    const row_fn row = k == 3 ? (stride == 1 ? row_k3_s1 : row_k3_s2) : (stride == 1 ? row_k5_s1 : row_k5_s2);
    for (int oy = oy0; oy < oy1; oy++)
        row(src, h, w, c, weights, bias, oy * stride - pad_top, pad_left, ow, activation, out + (size_t)oy * ow * c);
    return 1;
}

DX_END_TARGET
#endif
