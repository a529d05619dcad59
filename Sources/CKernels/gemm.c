/* gemm.c — see dxkernels.h: SGEMM with weights packed once, bias and activation fused (AVX-512F). */
#include "dxkernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define NR 32
#define MR 12

/* B [k][n] row-major → panels [ceil(n/32)][k][32], zero padded. */
void dx_gemm_pack_b(const float *b, int k, int n, float *packed) {
    int panels = (n + NR - 1) / NR;
    for (int p = 0; p < panels; p++)
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < NR; j++) {
                int col = p * NR + j;
                packed[((size_t)p * k + kk) * NR + j] = col < n ? b[(size_t)kk * n + col] : 0.f;
            }
}

static inline __attribute__((target("avx512f"), always_inline)) __m512 act512(__m512 v, int activation) {
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
static __attribute__((target("avx512f"))) void kernel_##ROWS(const float *a, int lda, const float *bp, int k, \
        const float *bias, int activation, float *c, int ldc, __mmask16 m0, __mmask16 m1, const float *pf,   \
        const float *add) {                                                                             \
    __m512 acc0[ROWS], acc1[ROWS];                                                                  \
    __m512 b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);         \
    for (int r = 0; r < ROWS; r++) { acc0[r] = b0; acc1[r] = b1; }                                  \
    for (int kk = 0; kk < k; kk++) {                                                                \
        if (pf) PREFETCH_ROW(pf, kk);                                                               \
        __m512 w0 = _mm512_loadu_ps(bp + (size_t)kk * NR), w1 = _mm512_loadu_ps(bp + (size_t)kk * NR + 16); \
        for (int r = 0; r < ROWS; r++) {                                                            \
            __m512 v = _mm512_set1_ps(a[(size_t)r * lda + kk]);                                     \
            acc0[r] = _mm512_fmadd_ps(v, w0, acc0[r]);                                              \
            acc1[r] = _mm512_fmadd_ps(v, w1, acc1[r]);                                              \
        }                                                                                           \
    }                                                                                               \
    for (int r = 0; r < ROWS; r++) {                                                                \
        __m512 v0 = act512(acc0[r], activation), v1 = act512(acc1[r], activation);                  \
        if (add) {                                                                                  \
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, add + (size_t)r * ldc));               \
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, add + (size_t)r * ldc + 16));          \
        }                                                                                           \
        _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, v0);                                         \
        _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, v1);                                    \
    }                                                                                               \
}
KERNEL(12) KERNEL(11) KERNEL(10) KERNEL(9) KERNEL(8) KERNEL(7) KERNEL(6) KERNEL(5) KERNEL(4) KERNEL(3) KERNEL(2) KERNEL(1)

/* The same for a last panel holding at most 16 columns: half the multiplications. */
#define KERNEL16(ROWS)                                                                                 \
static __attribute__((target("avx512f"))) void kernel16_##ROWS(const float *a, int lda, const float *bp, int k, \
        const float *bias, int activation, float *c, int ldc, __mmask16 m0, __mmask16 m1, const float *pf,   \
        const float *add) {                                                                             \
    (void)m1; (void)pf;                                                                             \
    __m512 acc0[ROWS];                                                                              \
    __m512 b0 = _mm512_maskz_loadu_ps(m0, bias);                                                    \
    for (int r = 0; r < ROWS; r++) acc0[r] = b0;                                                    \
    for (int kk = 0; kk < k; kk++) {                                                                \
        __m512 w0 = _mm512_loadu_ps(bp + (size_t)kk * NR);                                          \
        for (int r = 0; r < ROWS; r++)                                                              \
            acc0[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)r * lda + kk]), w0, acc0[r]);        \
    }                                                                                               \
    for (int r = 0; r < ROWS; r++) {                                                                \
        __m512 v0 = act512(acc0[r], activation);                                                    \
        if (add) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, add + (size_t)r * ldc));          \
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

static void dx_gemm_rows(const float *ablock, int m0, int m1, int k, int lda, const float *packed, int n, int ldc,
                         const float *bias, int activation, const float *add, float *c);

/* c[m][n] = act(a[m][k] × B + bias) (+ add[m][n]), B packed by dx_gemm_pack_b. */
__attribute__((target("avx512f")))
void dx_gemm_packed_add(const float *a, int m, int k, const float *packed, int n, int ldc, const float *bias,
                        int activation, const float *add, float *c) {
    const int panels = (n + NR - 1) / NR;
    /* Rows per block: the block of A stays in L2 while every panel of B passes over it. */
    int mb = (256 * 1024) / (k * 4);
    mb = mb < MR ? MR : (mb / MR) * MR;
    /* Rows of A a multiple of 4 KB long put a tile's 12 rows in one L1 set (8 ways): such a block
     * is copied with its rows 64 bytes further apart (K = 1024 here: 97 -> 108 GFLOP/s). */
    static _Thread_local float *spaced = NULL;
    static _Thread_local size_t spaced_size = 0;
    const int alias = (k * sizeof(float)) % 4096 == 0 && panels > 2;
    const int lda = alias ? k + 16 : k;
    for (int m0 = 0; m0 < m; m0 += mb) {
        const int m1 = m0 + mb < m ? m0 + mb : m;
        const float *ablock = a + (size_t)m0 * k;
        if (alias) {
            const size_t need = (size_t)mb * lda;
            if (need > spaced_size) {
                float *grown = realloc(spaced, need * sizeof(float));
                if (!grown) { dx_gemm_rows(a, m0, m1, k, k, packed, n, ldc, bias, activation, add, c); continue; }
                spaced = grown; spaced_size = need;
            }
            for (int r = m0; r < m1; r++) memcpy(spaced + (size_t)(r - m0) * lda, a + (size_t)r * k, (size_t)k * sizeof(float));
            ablock = spaced;
        }
        dx_gemm_rows(ablock, m0, m1, k, lda, packed, n, ldc, bias, activation, add, c);
    }
}


/* Rows [m0, m1) of c, A's rows starting at `ablock` (row m0) `lda` apart. */
__attribute__((target("avx512f")))
static void dx_gemm_rows(const float *ablock, int m0, int m1, int k, int lda, const float *packed, int n, int ldc,
                         const float *bias, int activation, const float *add, float *c) {
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
        for (int r = m0; r < m1; r += MR) {
            const int rows = m1 - r < MR ? m1 - r : MR;
            table[rows](ablock + (size_t)(r - m0) * lda, lda, bp, k, bb, activation, c + (size_t)r * ldc + col, ldc,
                        mask0, mask1, r == m0 ? next : NULL, add ? add + (size_t)r * ldc + col : NULL);
        }
    }
}

void dx_gemm_packed(const float *a, int m, int k, const float *packed, int n, int ldc, const float *bias, int activation,
                    float *c) {
    dx_gemm_packed_add(a, m, k, packed, n, ldc, bias, activation, NULL, c);
}

int dx_gemm_supported(void) { return __builtin_cpu_supports("avx512f"); }

#else  /* not x86-64: the engine uses BLAS */
void dx_gemm_pack_b(const float *b, int k, int n, float *packed) { (void)b; (void)k; (void)n; (void)packed; }
void dx_gemm_packed(const float *a, int m, int k, const float *packed, int n, int ldc, const float *bias, int activation,
                    float *c) {
    (void)a; (void)m; (void)k; (void)packed; (void)n; (void)bias; (void)activation; (void)c;
}
void dx_gemm_packed_add(const float *a, int m, int k, const float *packed, int n, int ldc, const float *bias,
                        int activation, const float *add, float *c) {
    (void)a; (void)m; (void)k; (void)packed; (void)n; (void)bias; (void)activation; (void)add; (void)c;
}
int dx_gemm_supported(void) { return 0; }
#endif
