/* winograd.c — see dxkernels.h: 3x3 stride-1 convolution by Winograd's minimal filtering
 * F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), with
 * interpolation points 0, ±1, ±2: each 6x6 input tile d and 3x3 filter g give the 4x4 outputs
 * Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, so the 36 products per tile become 36 GEMMs
 * [tiles x cin] x [cin x cout] with 36 multiplications for 16 outputs instead of 144. */
#include "dxkernels.h"

#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

/* Channels transformed together (one AVX-512 register). */
#define CB 16
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

/* Bᵀ x along one axis: x[0..5] (stride apart, `width` channels each) → out[0..5]. */
static inline __attribute__((always_inline)) void input_1d(const float *const x[6], float *const out[6], int width) {
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
static inline __attribute__((always_inline)) void input_tile(const float *in, int h, int w, int cin, int y0, int x0,
                                                             int c0, int width, float *v, size_t e_stride) {
    static const float zeros[CB] = {0};
    float t[6][6][CB];
    for (int i = 0; i < 6; i++) {
        const int y = y0 + i;
        const float *x[6];
        float *o[6];
        for (int j = 0; j < 6; j++) {
            const int xx = x0 + j;
            x[j] = (y >= 0 && y < h && xx >= 0 && xx < w) ? in + ((size_t)y * w + xx) * cin + c0 : zeros;
            o[j] = t[i][j];
        }
        input_1d(x, o, width);
    }
    for (int j = 0; j < 6; j++) {
        const float *x[6];
        float *o[6];
        for (int i = 0; i < 6; i++) { x[i] = t[i][j]; o[i] = v + (size_t)(i * 6 + j) * e_stride + c0; }
        input_1d(x, o, width);
    }
}

/* Aᵀ along one axis: m[0..5] → out[0..3]. */
static inline __attribute__((always_inline)) void output_1d(const float *const m[6], float *const out[4], int width) {
    for (int q = 0; q < width; q++) {
        const float m0 = m[0][q], m1 = m[1][q], m2 = m[2][q], m3 = m[3][q], m4 = m[4][q], m5 = m[5][q];
        const float a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
        out[0][q] = m0 + a + c;
        out[1][q] = b + 2.f * d;
        out[2][q] = a + 4.f * c;
        out[3][q] = b + 8.f * d + m5;
    }
}

static inline float act(float v, int activation) {
    if (activation == 1) return v > 0 ? v : 0;
    if (activation == 2) return v > 0 ? (v < 6 ? v : 6) : 0;
    return v;
}

/* One tile's Aᵀ M A + bias, activation, for outputs [c0, c0 + width) (rows/columns past the
 * output's edge are not stored). */
static inline __attribute__((always_inline)) void output_tile(const float *m, size_t e_stride, const float *bias,
                                                              int activation, int cout, int oh, int ow, int oy, int ox,
                                                              int c0, int width, float *out) {
    float s[6][4][CB], y[4][4][CB];
    for (int i = 0; i < 6; i++) {
        const float *x[6];
        float *o[4];
        for (int j = 0; j < 6; j++) x[j] = m + (size_t)(i * 6 + j) * e_stride + c0;
        for (int j = 0; j < 4; j++) o[j] = s[i][j];
        output_1d(x, o, width);
    }
    for (int j = 0; j < 4; j++) {
        const float *x[6];
        float *o[4];
        for (int i = 0; i < 6; i++) x[i] = s[i][j];
        for (int i = 0; i < 4; i++) o[i] = y[i][j];
        output_1d(x, o, width);
    }
    for (int i = 0; i < 4 && oy + i < oh; i++)
        for (int j = 0; j < 4 && ox + j < ow; j++) {
            float *dst = out + ((size_t)(oy + i) * ow + ox + j) * cout + c0;
            for (int q = 0; q < width; q++) dst[q] = act(y[i][j][q] + bias[c0 + q], activation);
        }
}

MULTIVERSION
static void input_band(const float *in, int h, int w, int cin, int pad_top, int pad_left, int ow, int tr0, int tr1,
                       float *v, size_t tiles) {
    const int per_row = (ow + 3) / 4;
    const size_t e_stride = tiles * (size_t)cin + E_PAD;
    for (int tr = tr0; tr < tr1; tr++)
        for (int tc = 0; tc < per_row; tc++) {
            float *vt = v + ((size_t)(tr - tr0) * per_row + tc) * cin;
            const int y0 = tr * 4 - pad_top, x0 = tc * 4 - pad_left;
            int c0 = 0;
            for (; c0 + CB <= cin; c0 += CB) input_tile(in, h, w, cin, y0, x0, c0, CB, vt, e_stride);
            if (c0 < cin) input_tile(in, h, w, cin, y0, x0, c0, cin - c0, vt, e_stride);
        }
}

MULTIVERSION
static void output_band(const float *m, int cout, const float *bias, int activation, int oh, int ow, int tr0, int tr1,
                        size_t tiles, float *out) {
    const int per_row = (ow + 3) / 4;
    const size_t e_stride = tiles * (size_t)cout + E_PAD;
    for (int tr = tr0; tr < tr1; tr++)
        for (int tc = 0; tc < per_row; tc++) {
            const float *mt = m + ((size_t)(tr - tr0) * per_row + tc) * cout;
            int c0 = 0;
            for (; c0 + CB <= cout; c0 += CB) output_tile(mt, e_stride, bias, activation, cout, oh, ow, tr * 4, tc * 4, c0, CB, out);
            if (c0 < cout) output_tile(mt, e_stride, bias, activation, cout, oh, ow, tr * 4, tc * 4, c0, cout - c0, out);
        }
}

void dx_winograd_conv(const float *in, int h, int w, int cin, int pad_top, int pad_left, const float *panels,
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
        input_band(in, h, w, cin, pad_top, pad_left, ow, b0, b1, v, tiles);
        for (int e = 0; e < 36; e++)
            dx_gemm_packed(v + e * (tiles * cin + E_PAD), (int)tiles, cin, panels + e * panel_stride, cout, cout, zero_bias,
                           0, m + e * (tiles * cout + E_PAD));
        output_band(m, cout, bias, activation, oh, ow, b0, b1, tiles, out);
    }
}
