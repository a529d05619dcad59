/* gemm_avx2.c — the packed GEMM's AVX2 + FMA register tiles (see gemm.c): 6 rows x 16 columns (12
 * ymm accumulators, two weight vectors and a broadcast: 15 of the 16 registers), each 32-wide panel
 * walked as two 16-wide halves while the tile's rows of A stay in L1; 6 x 8 for a half of at most 8
 * columns. Each element is accumulated in the same order as the AVX-512 tiles (bias, then k = 0,
 * 1, ... by fused multiply-adds), so both give the same bits. */
#include "internal.h"

#if DX_X86
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define NR 32
#define MR 6

DX_BEGIN_AVX2

static inline __attribute__((always_inline)) __m256 act256(__m256 v, int activation) {
    if (activation >= 1) v = _mm256_max_ps(v, _mm256_setzero_ps());
    if (activation == 2) v = _mm256_min_ps(v, _mm256_set1_ps(6.f));
    return v;
}

static const int32_t lane_mask_source[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
/* The first `n` (0...8) lanes. */
static inline __attribute__((always_inline)) __m256i lanes(int n) {
    return _mm256_loadu_si256((const __m256i *)(lane_mask_source + 8 - n));
}

/* act(v) (+ add) into `dst`'s first `n` (1...8) lanes. */
static inline __attribute__((always_inline)) void store8(float *dst, __m256 v, int activation, const float *add, int n) {
    v = act256(v, dx_act_before_add(activation));
    if (n >= 8) {
        if (add) v = _mm256_add_ps(v, _mm256_loadu_ps(add));
        _mm256_storeu_ps(dst, act256(v, dx_act_after_add(activation)));
    } else {
        const __m256i m = lanes(n);
        if (add) v = _mm256_add_ps(v, _mm256_maskload_ps(add, m));
        _mm256_maskstore_ps(dst, m, act256(v, dx_act_after_add(activation)));
    }
}

/* Rows [0, ROWS) x columns [0, width) (width 9...16) of one half panel `bp` (rows of 32 floats). */
#define KERNEL(ROWS)                                                                                    \
static void kernel_##ROWS(const float *a, int lda, const float *bp, int k, const float *bias, int activation, \
                          float *c, int ldc, int width, const float *pf, const float *add) {                 \
    __m256 acc0[ROWS], acc1[ROWS];                                                                      \
    const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);                            \
    DX_UNROLL for (int r = 0; r < ROWS; r++) { acc0[r] = b0; acc1[r] = b1; }                                      \
    for (int kk = 0; kk < k; kk++) {                                                                    \
        if (pf) {                                                                                       \
            _mm_prefetch((const char *)(pf + (size_t)kk * NR), _MM_HINT_T1);                            \
            _mm_prefetch((const char *)(pf + (size_t)kk * NR + 16), _MM_HINT_T1);                       \
        }                                                                                               \
        const __m256 w0 = _mm256_loadu_ps(bp + (size_t)kk * NR), w1 = _mm256_loadu_ps(bp + (size_t)kk * NR + 8); \
        DX_UNROLL for (int r = 0; r < ROWS; r++) {                                                                \
            const __m256 v = _mm256_broadcast_ss(a + (size_t)r * lda + kk);                             \
            acc0[r] = _mm256_fmadd_ps(v, w0, acc0[r]);                                                  \
            acc1[r] = _mm256_fmadd_ps(v, w1, acc1[r]);                                                  \
        }                                                                                               \
    }                                                                                                   \
    DX_UNROLL for (int r = 0; r < ROWS; r++) {                                                                    \
        const float *ar = add ? add + (size_t)r * ldc : NULL;                                           \
        store8(c + (size_t)r * ldc, acc0[r], activation, ar, 8);                                        \
        store8(c + (size_t)r * ldc + 8, acc1[r], activation, ar ? ar + 8 : NULL, width - 8);            \
    }                                                                                                   \
}
KERNEL(6) KERNEL(5) KERNEL(4) KERNEL(3) KERNEL(2) KERNEL(1)

/* The same for a half panel of at most 8 columns: half the multiplications. */
#define KERNEL8(ROWS)                                                                                   \
static void kernel8_##ROWS(const float *a, int lda, const float *bp, int k, const float *bias, int activation, \
                           float *c, int ldc, int width, const float *pf, const float *add) {                \
    (void)pf;                                                                                           \
    __m256 acc0[ROWS];                                                                                  \
    const __m256 b0 = _mm256_loadu_ps(bias);                                                            \
    DX_UNROLL for (int r = 0; r < ROWS; r++) acc0[r] = b0;                                                        \
    for (int kk = 0; kk < k; kk++) {                                                                    \
        const __m256 w0 = _mm256_loadu_ps(bp + (size_t)kk * NR);                                        \
        DX_UNROLL for (int r = 0; r < ROWS; r++)                                                                  \
            acc0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + (size_t)r * lda + kk), w0, acc0[r]);      \
    }                                                                                                   \
    DX_UNROLL for (int r = 0; r < ROWS; r++)                                                                      \
        store8(c + (size_t)r * ldc, acc0[r], activation, add ? add + (size_t)r * ldc : NULL, width);    \
}
KERNEL8(6) KERNEL8(5) KERNEL8(4) KERNEL8(3) KERNEL8(2) KERNEL8(1)

typedef void (*kernel_fn)(const float *, int, const float *, int, const float *, int, float *, int, int, const float *,
                          const float *);
static const kernel_fn kernels[7] = {0, kernel_1, kernel_2, kernel_3, kernel_4, kernel_5, kernel_6};
static const kernel_fn kernels8[7] = {0, kernel8_1, kernel8_2, kernel8_3, kernel8_4, kernel8_5, kernel8_6};

/* Rows [0, m) of c, A's rows `lda` apart: panel by panel, 6-row tiles down each, both halves of a
 * panel for one tile before the next tile. */
void dx_gemm_rows_avx2(DX_GEMM_ROWS_ARGS) {
    const int panels = (n + NR - 1) / NR;
    float padded_bias[NR];
    for (int p = 0; p < panels; p++) {
        const int col = p * NR, width = n - col < NR ? n - col : NR;
        const float *bp = packed + (size_t)p * k * NR;
        const float *bb = bias + col;
        if (width < NR) { memset(padded_bias, 0, sizeof padded_bias); memcpy(padded_bias, bb, width * sizeof(float)); bb = padded_bias; }
        /* The first tile of a panel fetches the next panel (see gemm_avx512.c). */
        const float *next = p + 1 < panels ? bp + (size_t)k * NR : NULL;
        for (int r = 0; r < m; r += MR) {
            const int rows = m - r < MR ? m - r : MR;
            const float *ar = a + (size_t)r * lda;
            float *cr = c + (size_t)r * ldc + col;
            const float *addr = add ? add + (size_t)r * ldc + col : NULL;
            for (int half = 0; half < 2 && half * 16 < width; half++) {
                const int w = width - half * 16 < 16 ? width - half * 16 : 16;
                const kernel_fn *table = w <= 8 ? kernels8 : kernels;
                table[rows](ar, lda, bp + half * 16, k, bb + half * 16, activation, cr + half * 16, ldc, w,
                            r == 0 && half == 0 ? next : NULL, addr ? addr + half * 16 : NULL);
            }
        }
    }
}

DX_END_TARGET
#endif
