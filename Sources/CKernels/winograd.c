/* winograd.c — see dxkernels.h: 3x3 stride-1 convolution by Winograd's minimal filtering
 * F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), with
 * interpolation points 0, ±1, ±2: each 6x6 input tile d and 3x3 filter g give the 4x4 outputs
 * Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, so the 36 products per tile become 36 GEMMs
 * [tiles x cin] x [cin x cout] with 36 multiplications for 16 outputs instead of 144. */
#include "internal.h"

#include <string.h>

/* Tiles a band aims at: rows of each of the 36 GEMMs. */
#define BAND_TILES 48
/* Floats between consecutive of the 36 matrices beyond their size: a tile's 36 values are read
 * (written) together, and matrices a multiple of 4 KB apart would all fall in one L1 set. */
#define E_PAD 16

void dx_winograd_weights(const float *g, int cin, int cout, float *u) {
    static const double G[6][3] = {{1.0 / 4, 0, 0},          {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    for (int ci = 0; ci < cin; ci++)
        for (int co = 0; co < cout; co++) {
            double f[3][3], t[6][3];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) f[y][x] = g[((size_t)(y * 3 + x) * cin + ci) * cout + co];
            for (int i = 0; i < 6; i++)
                for (int x = 0; x < 3; x++) t[i][x] = G[i][0] * f[0][x] + G[i][1] * f[1][x] + G[i][2] * f[2][x];
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++)
                    u[((size_t)(i * 6 + j) * cin + ci) * cout + co] =
                        (float)(t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
        }
}

static int tiles_per_band(int ow) {
    const int per_row = (ow + 3) / 4;
    const int rows = BAND_TILES / per_row;
    return (rows < 1 ? 1 : rows) * per_row;
}

size_t dx_winograd_scratch(int ow, int cin, int cout) {
    const size_t tiles = (size_t)tiles_per_band(ow);
    return 36 * (tiles * (size_t)(cin + cout) + 2 * E_PAD) + (size_t)cout;
}

void dx_winograd_conv(int isa, const float *in, int h, int w, int cin, int pad_top, int pad_left, const float *panels,
                      size_t panel_stride, int cout, const float *bias, int activation, int oh, int ow, int tr0, int tr1,
                      float *scratch, float *out) {
    const int per_row = (ow + 3) / 4;
    const int band_rows = tiles_per_band(ow) / per_row;
    const size_t max_tiles = (size_t)band_rows * per_row;
    float *v = scratch, *m = scratch + 36 * (max_tiles * cin + E_PAD), *zero_bias = m + 36 * (max_tiles * cout + E_PAD);
    memset(zero_bias, 0, (size_t)cout * sizeof(float));
    for (int b0 = tr0; b0 < tr1; b0 += band_rows) {
        const int b1 = b0 + band_rows < tr1 ? b0 + band_rows : tr1;
        const size_t tiles = (size_t)(b1 - b0) * per_row;
        const size_t in_stride = tiles * cin + E_PAD, out_stride = tiles * cout + E_PAD;
        DX_DISPATCH(dx_winograd_input_band, isa, (in, h, w, cin, pad_top, pad_left, ow, b0, b1, v, in_stride));
        for (int e = 0; e < 36; e++)
            dx_gemm_packed(isa, v + e * in_stride, (int)tiles, cin, panels + e * panel_stride, cout, cout, zero_bias, 0,
                           m + e * out_stride);
        DX_DISPATCH(dx_winograd_output_band, isa, (m, out_stride, cout, bias, activation, oh, ow, b0, b1, out));
    }
}
