/* gemm_avx512.c — the packed GEMM's AVX-512 register tiles (see gemm.c): 12 rows x 32 columns (24
 * zmm accumulators), or 12 x 16 for a last panel of at most 16 columns. */
#include "internal.h"

#if DX_X86
#include <immintrin.h>
#include <string.h>

#define NR 32
#define MR 12

DX_BEGIN_AVX512

static inline __attribute__((always_inline)) __m512 act512(__m512 v, int activation) {
    if (activation >= 1) v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (activation == 2) v = _mm512_min_ps(v, _mm512_set1_ps(6.f));
    return v;
}

/* Brings row kk of the next panel (two cache lines) towards L2 while this one is multiplied. */
#define PREFETCH_ROW(pf, kk) do {                                                                      \
        _mm_prefetch((const char *)((pf) + (size_t)(kk) * NR), _MM_HINT_T1);                        \
        _mm_prefetch((const char *)((pf) + (size_t)(kk) * NR + 16), _MM_HINT_T1);                   \
    } while (0)

#define KERNEL(ROWS)                                                                                   \
static void kernel_##ROWS(const float *a, int lda, const float *bp, int k,                              \
        const float *bias, int activation, float *c, int ldc, __mmask16 m0, __mmask16 m1, const float *pf,   \
        const float *add) {                                                                             \
    __m512 acc0[ROWS], acc1[ROWS];                                                                  \
    __m512 b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);         \
    DX_UNROLL for (int r = 0; r < ROWS; r++) { acc0[r] = b0; acc1[r] = b1; }                                  \
    for (int kk = 0; kk < k; kk++) {                                                                \
        if (pf) PREFETCH_ROW(pf, kk);                                                               \
        __m512 w0 = _mm512_loadu_ps(bp + (size_t)kk * NR), w1 = _mm512_loadu_ps(bp + (size_t)kk * NR + 16); \
        DX_UNROLL for (int r = 0; r < ROWS; r++) {                                                            \
            __m512 v = _mm512_set1_ps(a[(size_t)r * lda + kk]);                                     \
            acc0[r] = _mm512_fmadd_ps(v, w0, acc0[r]);                                              \
            acc1[r] = _mm512_fmadd_ps(v, w1, acc1[r]);                                              \
        }                                                                                           \
    }                                                                                               \
    const int pre = dx_act_before_add(activation), post = dx_act_after_add(activation);             \
    DX_UNROLL for (int r = 0; r < ROWS; r++) {                                                                \
        __m512 v0 = act512(acc0[r], pre), v1 = act512(acc1[r], pre);                                \
        if (add) {                                                                                  \
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, add + (size_t)r * ldc));               \
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, add + (size_t)r * ldc + 16));          \
        }                                                                                           \
        v0 = act512(v0, post); v1 = act512(v1, post);                                               \
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, v0);                                         \
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, v1);                                    \
    }                                                                                               \
}
KERNEL(12) KERNEL(11) KERNEL(10) KERNEL(9) KERNEL(8) KERNEL(7) KERNEL(6) KERNEL(5) KERNEL(4) KERNEL(3) KERNEL(2) KERNEL(1)

/* The same for a last panel holding at most 16 columns: half the multiplications. */
#define KERNEL16(ROWS)                                                                                 \
static void kernel16_##ROWS(const float *a, int lda, const float *bp, int k,                            \
        const float *bias, int activation, float *c, int ldc, __mmask16 m0, __mmask16 m1, const float *pf,   \
        const float *add) {                                                                             \
    (void)m1; (void)pf;                                                                             \
    __m512 acc0[ROWS];                                                                              \
    __m512 b0 = _mm512_maskz_loadu_ps(m0, bias);                                                    \
    DX_UNROLL for (int r = 0; r < ROWS; r++) acc0[r] = b0;                                                    \
    for (int kk = 0; kk < k; kk++) {                                                                \
        __m512 w0 = _mm512_loadu_ps(bp + (size_t)kk * NR);                                          \
        DX_UNROLL for (int r = 0; r < ROWS; r++)                                                              \
            acc0[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)r * lda + kk]), w0, acc0[r]);        \
    }                                                                                               \
    const int pre = dx_act_before_add(activation), post = dx_act_after_add(activation);             \
    DX_UNROLL for (int r = 0; r < ROWS; r++) {                                                                \
        __m512 v0 = act512(acc0[r], pre);                                                           \
        if (add) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, add + (size_t)r * ldc));          \
        v0 = act512(v0, post);                                                                      \
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, v0);                                         \
    }                                                                                               \
}
KERNEL16(12) KERNEL16(11) KERNEL16(10) KERNEL16(9) KERNEL16(8) KERNEL16(7) KERNEL16(6) KERNEL16(5) KERNEL16(4)
KERNEL16(3) KERNEL16(2) KERNEL16(1)

typedef void (*kernel_fn)(const float *, int, const float *, int, const float *, int, float *, int, __mmask16, __mmask16,
                          const float *, const float *);
static const kernel_fn kernels[13] = {0, kernel_1, kernel_2, kernel_3, kernel_4, kernel_5, kernel_6, kernel_7,
                                      kernel_8, kernel_9, kernel_10, kernel_11, kernel_12};
static const kernel_fn kernels16[13] = {0, kernel16_1, kernel16_2, kernel16_3, kernel16_4, kernel16_5, kernel16_6,
                                        kernel16_7, kernel16_8, kernel16_9, kernel16_10, kernel16_11, kernel16_12};

/* Rows [0, m) of c, A's rows `lda` apart: panel by panel, 12-row tiles down each. */
void dx_gemm_rows_avx512(DX_GEMM_ROWS_ARGS) {
    const int panels = (n + NR - 1) / NR;
    float padded_bias[NR];
    for (int p = 0; p < panels; p++) {
        const int col = p * NR, width = n - col < NR ? n - col : NR;
        const __mmask16 mask0 = width >= 16 ? 0xFFFF : (__mmask16)((1u << width) - 1);
        const __mmask16 mask1 = width >= 32 ? 0xFFFF : width > 16 ? (__mmask16)((1u << (width - 16)) - 1) : 0;
        const float *bp = packed + (size_t)p * k * NR;
        const float *bb = bias + col;
        if (width < NR) { memset(padded_bias, 0, sizeof padded_bias); memcpy(padded_bias, bb, width * sizeof(float)); bb = padded_bias; }
        const kernel_fn *table = width <= 16 ? kernels16 : kernels;
        /* The first tile of a panel fetches the next panel: weights come from memory once a
         * pass (a network's weights outgrow the caches) and would stall that tile otherwise. */
        const float *next = p + 1 < panels ? bp + (size_t)k * NR : NULL;
        for (int r = 0; r < m; r += MR) {
            const int rows = m - r < MR ? m - r : MR;
            table[rows](a + (size_t)r * lda, lda, bp, k, bb, activation, c + (size_t)r * ldc + col, ldc,
                        mask0, mask1, r == 0 ? next : NULL, add ? add + (size_t)r * ldc + col : NULL);
        }
    }
}

DX_END_TARGET
#endif
