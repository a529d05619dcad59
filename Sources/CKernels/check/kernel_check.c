/* kernel_check.c — the kernels against textbook loops in plain C, under every instruction set the
 * machine runs: a standalone program (not part of the library; Package.swift excludes this folder)
 * that PortabilityTests builds for aarch64 and runs under qemu, so that the portable path is known
 * to work, not only to compile, on a CPU the engine has no intrinsics for. Prints one line per set;
 * exits 1 on any mismatch. */
#include "dxkernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long seed = 1;
static float rnd(void) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((long long)(seed >> 11) % 2000000) / 1000000.0f - 1.0f;
}
static float *randoms(size_t n) {
    float *p = malloc(n * sizeof(float) + 64);
    for (size_t i = 0; i < n; i++) p[i] = rnd();
    return p;
}
static float act(double v, int a) { return (float)(a == 1 ? (v > 0 ? v : 0) : a == 2 ? (v < 0 ? 0 : v > 6 ? 6 : v) : v); }

static int failures = 0;
static void expect(int ok, const char *what, int isa) {
    if (!ok) { failures++; fprintf(stderr, "kernel_check: %s differs (isa %d)\n", what, isa); }
}
static double max_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

/* GEMM: against double sums, with activation and addend; and each row alone gives the same bits. */
static void check_gemm(int isa, int m, int k, int n, int activation) {
    float *a = randoms((size_t)m * k), *b = randoms((size_t)k * n), *bias = randoms(n), *add = randoms((size_t)m * n);
    float *packed = malloc(sizeof(float) * k * ((n + 31) / 32) * 32), *c = malloc(sizeof(float) * m * n);
    float *row = malloc(sizeof(float) * n), *want = calloc((size_t)m * n, sizeof(float));
    dx_gemm_pack_b(b, k, n, packed);
    dx_gemm_packed_add(isa, a, m, k, packed, n, n, bias, activation, add, c);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = bias[j];
            for (int q = 0; q < k; q++) s += (double)a[(size_t)i * k + q] * b[(size_t)q * n + j];
            want[(size_t)i * n + j] = act(s, activation) + add[(size_t)i * n + j];
        }
    expect(max_diff(c, want, (size_t)m * n) < 1e-4 * (1 + k / 100.0), "gemm", isa);
    for (int i = 0; i < m; i += 3) {
        dx_gemm_packed_add(isa, a + (size_t)i * k, 1, k, packed, n, n, bias, activation, add + (size_t)i * n, row);
        expect(!memcmp(row, c + (size_t)i * n, sizeof(float) * n), "gemm row alone", isa);
    }
    free(a); free(b); free(bias); free(add); free(packed); free(c); free(row); free(want);
}

/* Depthwise k x k, stride s, symmetric padding k/2: against double sums. */
static void check_depthwise(int isa, int h, int w, int ch, int k, int s) {
    const int pad = k / 2, oh = (h + 2 * pad - k) / s + 1, ow = (w + 2 * pad - k) / s + 1;
    float *in = randoms((size_t)h * w * ch), *wt = randoms((size_t)k * k * ch), *bias = randoms(ch);
    float *out = malloc(sizeof(float) * oh * ow * ch), *want = malloc(sizeof(float) * oh * ow * ch);
    dx_depthwise_nhwc(isa, in, 1, h, w, ch, wt, bias, k, s, pad, pad, oh, ow, 2, out);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            for (int c = 0; c < ch; c++) {
                double v = bias[c];
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const int iy = y * s + ky - pad, ix = x * s + kx - pad;
                        if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                            v += (double)in[((size_t)iy * w + ix) * ch + c] * wt[(size_t)(ky * k + kx) * ch + c];
                    }
                want[((size_t)y * ow + x) * ch + c] = act(v, 2);
            }
    expect(max_diff(out, want, (size_t)oh * ow * ch) < 1e-5, "depthwise", isa);
    free(in); free(wt); free(bias); free(out); free(want);
}

/* 3x3 stride-1 convolution, padding 1: Winograd and the direct (stem) kernel against double sums. */
static void check_conv3x3(int isa, int h, int w, int cin, int cout) {
    float *in = randoms((size_t)h * w * cin), *g = randoms((size_t)9 * cin * cout), *bias = randoms(cout);
    float *out = malloc(sizeof(float) * h * w * cout), *want = malloc(sizeof(float) * h * w * cout);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int o = 0; o < cout; o++) {
                double v = bias[o];
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        const int iy = y + ky - 1, ix = x + kx - 1;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        for (int i = 0; i < cin; i++)
                            v += (double)in[((size_t)iy * w + ix) * cin + i] * g[((size_t)(ky * 3 + kx) * cin + i) * cout + o];
                    }
                want[((size_t)y * w + x) * cout + o] = act(v, 1);
            }
    double scale = 0;
    for (size_t i = 0; i < (size_t)h * w * cout; i++) scale = fmax(scale, fabs(want[i]));
    dx_conv_direct_nhwc(isa, in, 1, h, w, cin, g, bias, cout, 3, 3, 1, 1, 1, h, w, 1, out);
    expect(max_diff(out, want, (size_t)h * w * cout) < 1e-5 * scale, "direct convolution", isa);
    /* Winograd: transform, pack the 36 matrices, convolve all tile rows. */
    const size_t stride = (size_t)cin * ((cout + 31) / 32) * 32;
    float *u = malloc(sizeof(float) * 36 * cin * cout), *panels = malloc(sizeof(float) * 36 * stride);
    dx_winograd_weights(g, cin, cout, u);
    for (int e = 0; e < 36; e++) dx_gemm_pack_b(u + (size_t)e * cin * cout, cin, cout, panels + e * stride);
    float *scratch = malloc(sizeof(float) * dx_winograd_scratch(w, cin, cout));
    memset(out, 0, sizeof(float) * h * w * cout);
    dx_winograd_conv(isa, in, h, w, cin, 1, 1, panels, stride, cout, bias, 1, h, w, 0, (h + 3) / 4, scratch, out);
    expect(max_diff(out, want, (size_t)h * w * cout) < 1e-5 * scale, "winograd", isa);
    free(in); free(g); free(bias); free(out); free(want); free(u); free(panels); free(scratch);
}

/* Max and average pooling 3x3 stride 2, padding 1 (average excludes it), max plus an addend. */
static void check_pool(int isa, int h, int w, int ch) {
    const int oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    float *in = randoms((size_t)h * w * ch), *add = randoms((size_t)oh * ow * ch);
    float *out = malloc(sizeof(float) * oh * ow * ch), *want = malloc(sizeof(float) * oh * ow * ch);
    for (int average = 0; average < 2; average++) {
        dx_pool_nhwc(isa, in, 1, h, w, ch, 3, 2, 1, 1, oh, ow, average, average ? NULL : add, out);
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                for (int c = 0; c < ch; c++) {
                    double m = -INFINITY, s = 0;
                    int n = 0;
                    for (int iy = y * 2 - 1; iy < y * 2 + 2; iy++)
                        for (int ix = x * 2 - 1; ix < x * 2 + 2; ix++) {
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            const double v = in[((size_t)iy * w + ix) * ch + c];
                            m = fmax(m, v); s += v; n++;
                        }
                    const size_t at = ((size_t)y * ow + x) * ch + c;
                    want[at] = average ? (float)(s / n) : (float)m + add[at];
                }
        expect(max_diff(out, want, (size_t)oh * ow * ch) < 1e-5, average ? "average pool" : "max pool", isa);
    }
    free(in); free(add); free(out); free(want);
}

int main(void) {
    for (int isa = dx_isa_cpu_best(); isa >= DX_ISA_GENERIC; isa--) {
        const int before = failures;
        check_gemm(isa, 1, 1, 1, 0);
        check_gemm(isa, 5, 3, 37, 1);
        check_gemm(isa, 13, 17, 70, 2);
        check_gemm(isa, 50, 300, 100, 2);
        check_gemm(isa, 26, 1024, 100, 0);  /* rows 4 KB long: the block copied with spaced rows */
        for (int k = 3; k <= 5; k += 2)
            for (int s = 1; s <= 2; s++) {
                check_depthwise(isa, 9, 11, 4, k, s);
                check_depthwise(isa, 12, 7, 17, k, s);
                check_depthwise(isa, 15, 16, 52, k, s);
            }
        check_conv3x3(isa, 9, 7, 3, 37);
        check_conv3x3(isa, 10, 13, 16, 40);
        check_pool(isa, 9, 8, 83);
        printf("kernel_check: isa %s %s\n", isa == DX_ISA_AVX512 ? "avx512" : isa == DX_ISA_AVX2 ? "avx2" : "generic",
               failures == before ? "ok" : "FAILED");
    }
    return failures ? 1 : 0;
}
