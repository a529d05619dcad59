/* gemm_generic.c — the packed GEMM's portable register tiles (see gemm.c): 4 rows x 8 columns in
 * plain C that the compiler keeps in vector registers for whatever it targets (two SSE registers a
 * row on baseline x86-64, NEON on aarch64). Each element is accumulated in the same order as the
 * other tiles: bias, then k = 0, 1, ... */
#include "internal.h"

#include <string.h>

#define NR 32
#define MR 4
#define NB 8

static inline float act(float v, int activation) {
    if (activation == 1) return v > 0 ? v : 0;
    if (activation == 2) return v > 0 ? (v < 6 ? v : 6) : 0;
    return v;
}

/* Rows [0, ROWS) x columns [0, width) (width 1...8) of the 8 columns at `bp` (rows of 32 floats). */
#define TILE(ROWS)                                                                                      \
static void tile_##ROWS(const float *restrict a, int lda, const float *restrict bp, int k,               \
                        const float *restrict bias, int activation, float *restrict c, int ldc, int width, \
                        const float *restrict add) {                                                     \
    float acc[ROWS][NB];                                                                                \
    DX_UNROLL for (int r = 0; r < ROWS; r++)                                                                      \
        DX_UNROLL for (int j = 0; j < NB; j++) acc[r][j] = bias[j];                                               \
    for (int kk = 0; kk < k; kk++) {                                                                    \
        const float *restrict b = bp + (size_t)kk * NR;                                                 \
        DX_UNROLL for (int r = 0; r < ROWS; r++) {                                                                \
            const float v = a[(size_t)r * lda + kk];                                                    \
            DX_UNROLL for (int j = 0; j < NB; j++) acc[r][j] += v * b[j];                                         \
        }                                                                                               \
    }                                                                                                   \
    DX_UNROLL for (int r = 0; r < ROWS; r++)                                                                      \
        for (int j = 0; j < width; j++) {                                                               \
            float x = act(acc[r][j], dx_act_before_add(activation));                                    \
            if (add) x += add[(size_t)r * ldc + j];                                                     \
            c[(size_t)r * ldc + j] = act(x, dx_act_after_add(activation));                              \
        }                                                                                               \
}
TILE(4) TILE(3) TILE(2) TILE(1)

typedef void (*tile_fn)(const float *, int, const float *, int, const float *, int, float *, int, int, const float *);
static const tile_fn tiles[MR + 1] = {0, tile_1, tile_2, tile_3, tile_4};

/* Rows [0, m) of c: panel by panel, 4-row tiles down each, the panel's four 8-column groups for
 * one tile before the next. */
void dx_gemm_rows_generic(DX_GEMM_ROWS_ARGS) {
    const int panels = (n + NR - 1) / NR;
    float padded_bias[NR];
    for (int p = 0; p < panels; p++) {
        const int col = p * NR, width = n - col < NR ? n - col : NR;
        const float *bp = packed + (size_t)p * k * NR;
        const float *bb = bias + col;
        if (width < NR) { memset(padded_bias, 0, sizeof padded_bias); memcpy(padded_bias, bb, width * sizeof(float)); bb = padded_bias; }
        for (int r = 0; r < m; r += MR) {
            const int rows = m - r < MR ? m - r : MR;
            for (int g = 0; g * NB < width; g++) {
                const int w = width - g * NB < NB ? width - g * NB : NB;
                tiles[rows](a + (size_t)r * lda, lda, bp + g * NB, k, bb + g * NB, activation,
                            c + (size_t)r * ldc + col + g * NB, ldc, w,
                            add ? add + (size_t)r * ldc + col + g * NB : NULL);
            }
        }
    }
}
