/* gemm.c — see dxkernels.h: SGEMM with weights packed once, bias, activation and a residual addend
 * applied as the tiles are stored. This file packs the weights and blocks the rows; the register
 * tiles are in gemm_avx512.c (12 x 32), gemm_avx2.c (6 x 16) and gemm_generic.c (4 x 8, plain C),
 * one of which runs as the caller's `isa` says. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define NR 32

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

typedef void (*rows_fn)(DX_GEMM_ROWS_ARGS);

/* c[m][n] = act(a[m][k] × B + bias) (+ add[m][n]), B packed by dx_gemm_pack_b. */
void dx_gemm_packed_add(int isa, const float *a, int m, int k, const float *packed, int n, int ldc, const float *bias,
                        int activation, const float *add, float *c) {
    if (m <= 0 || n <= 0) return;
    rows_fn rows = dx_gemm_rows_generic;
#if DX_X86
    switch (dx_isa_usable(isa)) {
    case DX_ISA_AVX512: rows = dx_gemm_rows_avx512; break;
    case DX_ISA_AVX2: rows = dx_gemm_rows_avx2; break;
    default: break;
    }
#else
    (void)isa;
#endif
    const int panels = (n + NR - 1) / NR;
    /* Rows per block (a multiple of every tile's 12, 6 or 4 rows): the block of A stays in L2
     * while every panel of B passes over it. */
    int mb = (256 * 1024) / (k * 4);
    mb = mb < 12 ? 12 : (mb / 12) * 12;
    /* Rows of A a multiple of 4 KB long put a tile's rows in one L1 set (8 ways): such a block
     * is copied with its rows 64 bytes further apart (K = 1024 here: 97 -> 108 GFLOP/s). */
    static _Thread_local float *spaced = NULL;
    static _Thread_local size_t spaced_size = 0;
    const int alias = (k * sizeof(float)) % 4096 == 0 && panels > 2;
    for (int m0 = 0; m0 < m; m0 += mb) {
        const int m1 = m0 + mb < m ? m0 + mb : m;
        const float *ablock = a + (size_t)m0 * k;
        int lda = k;
        if (alias) {
            const size_t need = (size_t)mb * (k + 16);
            if (need > spaced_size) {
                float *grown = realloc(spaced, need * sizeof(float));
                if (grown) { spaced = grown; spaced_size = need; }
            }
            if (need <= spaced_size) {
                lda = k + 16;
                for (int r = m0; r < m1; r++)
                    memcpy(spaced + (size_t)(r - m0) * lda, a + (size_t)r * k, (size_t)k * sizeof(float));
                ablock = spaced;
            }
        }
        rows(ablock, m1 - m0, k, lda, packed, n, ldc, bias, activation, add ? add + (size_t)m0 * ldc : NULL,
             c + (size_t)m0 * ldc);
    }
}

void dx_gemm_packed(int isa, const float *a, int m, int k, const float *packed, int n, int ldc, const float *bias,
                    int activation, float *c) {
    dx_gemm_packed_add(isa, a, m, k, packed, n, ldc, bias, activation, NULL, c);
}

int dx_gemm_supported(void) { return 1; }
