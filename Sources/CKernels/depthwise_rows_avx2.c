/* depthwise_rows_avx2.c — 3x3 and 5x5 depthwise convolution, stride 1 or 2, along output rows
 * with AVX2 + FMA (dx_depthwise_rows_avx2, see internal.h). Eight channels (one register) at a
 * time along the whole row, eight outputs a step: for each kernel row its K taps' weights are
 * loaded into registers, then each input vector is loaded once and multiplied into every output
 * that uses it (8 accumulators + K weights + the input: at most 14 of the 16 registers). Taps in
 * the padding are skipped, so edges and small maps take the same path. Taps are added in the
 * portable kernel's order (bias, then row by row, left to right, by fused multiply-adds): the
 * results equal the AVX-512 row kernel's. A last block of fewer than 8 channels is masked. */
#include "internal.h"

#if DX_X86
#include <immintrin.h>
#include <stdint.h>

DX_BEGIN_AVX2

static inline __attribute__((always_inline)) __m256 act256(__m256 v, int activation) {
    if (activation >= 1) v = _mm256_max_ps(v, _mm256_setzero_ps());
    if (activation == 2) v = _mm256_min_ps(v, _mm256_set1_ps(6.f));
    return v;
}

#define LOAD(p) (MASKED ? _mm256_maskload_ps((p), mask) : _mm256_loadu_ps(p))

/* NX adjacent outputs starting at column ox, stride S, K x K taps, channels [c0, c0 + 8). */
#define GROUP(K, S, NX)                                                                                    \
    do {                                                                                                   \
        __m256 acc[NX];                                                                                    \
        DX_UNROLL for (int j = 0; j < NX; j++) acc[j] = b;                                                           \
        DX_UNROLL for (int ky = 0; ky < K; ky++) {                                                                   \
            if (!rows[ky]) continue;                                                                       \
            __m256 wt[K];                                                                                  \
            DX_UNROLL for (int kx = 0; kx < K; kx++) wt[kx] = LOAD(weights + (size_t)(ky * K + kx) * c + c0);        \
            DX_UNROLL for (int p = 0; p < (NX - 1) * S + K; p++) {                                                   \
                const int ix = ox * S + p - pad_left;                                                      \
                if (ix < 0 || ix >= w) continue;                                                           \
                const __m256 v = LOAD(rows[ky] + (size_t)ix * c);                                          \
                DX_UNROLL for (int kx = 0; kx < K; kx++) {                                                           \
                    const int j = (p - kx) / S;                                                            \
                    if (p >= kx && (p - kx) % S == 0 && j < NX) acc[j] = _mm256_fmadd_ps(wt[kx], v, acc[j]); \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        DX_UNROLL for (int j = 0; j < NX; j++) {                                                                     \
            float *dst = o + (size_t)(ox + j) * c + c0;                                                    \
            const __m256 y = act256(acc[j], activation);                                                   \
            if (MASKED) _mm256_maskstore_ps(dst, mask, y); else _mm256_storeu_ps(dst, y);                  \
        }                                                                                                  \
    } while (0)

/* Channels [c0, c0 + 8) of one output row (its window's top at input row y0). */
#define BLOCK_ROW(K, S)                                                                                    \
    do {                                                                                                   \
        const __m256 b = LOAD(bias + c0);                                                                  \
        const float *rows[K];                                                                              \
        DX_UNROLL for (int ky = 0; ky < K; ky++)                                                                     \
            rows[ky] = y0 + ky >= 0 && y0 + ky < h ? src + (size_t)(y0 + ky) * w * c + c0 : 0;             \
        int ox = 0;                                                                                        \
        for (; ox + 8 <= ow; ox += 8) GROUP(K, S, 8);                                                      \
        if (ox + 4 <= ow) { GROUP(K, S, 4); ox += 4; }                                                     \
        if (ox + 2 <= ow) { GROUP(K, S, 2); ox += 2; }                                                     \
        if (ox < ow) GROUP(K, S, 1);                                                                       \
    } while (0)

static const int32_t lane_mask_source[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

#define ROW(K, S)                                                                                          \
static void row_k##K##_s##S(const float *src, int h, int w, int c, const float *weights, const float *bias,   \
                            int y0, int pad_left, int ow, int activation, float *o) {                      \
    int c0 = 0;                                                                                            \
    {                                                                                                      \
        enum { MASKED = 0 };                                                                               \
        const __m256i mask = _mm256_setzero_si256();                                                       \
        (void)mask;                                                                                        \
        for (; c0 + 8 <= c; c0 += 8) BLOCK_ROW(K, S);                                                      \
    }                                                                                                      \
    if (c0 < c) {                                                                                          \
        enum { MASKED = 1 };                                                                               \
        const __m256i mask = _mm256_loadu_si256((const __m256i *)(lane_mask_source + 8 - (c - c0)));       \
        BLOCK_ROW(K, S);                                                                                   \
    }                                                                                                      \
}
ROW(3, 1) ROW(3, 2) ROW(5, 1) ROW(5, 2)

typedef void (*row_fn)(const float *, int, int, int, const float *, const float *, int, int, int, int, float *);

int dx_depthwise_rows_avx2(DX_DW_ROWS_ARGS) {
    if ((k != 3 && k != 5) || (stride != 1 && stride != 2)) return 0;
    const row_fn row = k == 3 ? (stride == 1 ? row_k3_s1 : row_k3_s2) : (stride == 1 ? row_k5_s1 : row_k5_s2);
    for (int oy = oy0; oy < oy1; oy++)
        row(src, h, w, c, weights, bias, oy * stride - pad_top, pad_left, ow, activation, out + (size_t)oy * ow * c);
    return 1;
}

DX_END_TARGET
#endif
