/* dxkernels.h — hot inner loops of the engine in C. Every kernel exists for three instruction sets:
 * AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and a portable C path for any CPU (baseline x86-64,
 * aarch64, ...). Each function that has per-set copies takes the set to run as its first argument
 * (`isa`, DX_ISA_*; one above dx_isa_cpu_best() runs that one instead): the caller chooses (the
 * engine's ExecutionPlan), the kernels keep no setting of their own and read no environment. So one
 * binary is both portable and fast, every path can be run (and tested) on a machine that has the
 * best one, and two callers may run different sets at the same time. Feature maps are NHWC. */
#ifndef DXKERNELS_H
#define DXKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction sets, in increasing order. */
#define DX_ISA_GENERIC 0
#define DX_ISA_AVX2 1
#define DX_ISA_AVX512 2

/* The best set this CPU runs (from CPUID; the environment is not consulted). */
int dx_isa_cpu_best(void);
/* Measured single-core peak of `isa`'s multiply-add (FMA for AVX2 and AVX-512; separate vector
 * multiplies and adds for the portable path), GFLOP/s, timed for about `seconds`. */
double dx_fma_peak_gflops(int isa, double seconds);

/* Activation codes: 0 identity, 1 ReLU, 2 ReLU6. */

/* Depthwise convolution: weights [k*k][c], output [n][oh][ow][c]; padding given as the
 * top/left offsets (positions outside the input contribute nothing). */
void dx_depthwise_nhwc(int isa, const float *in, int n, int h, int w, int c, const float *weights,
                       const float *bias, int k, int stride, int pad_top, int pad_left, int oh, int ow, int activation,
                       float *out);

/* Direct convolution for few input channels (a network's stem): weights packed [kh][kw][cin][cout],
 * input [n][h][w][cin], output [n][oh][ow][cout] with bias and activation; positions outside the
 * input contribute nothing. */
void dx_conv_direct_nhwc(int isa, const float *in, int n, int h, int w, int cin, const float *weights,
                         const float *bias, int cout, int kh, int kw, int stride, int pad_top, int pad_left, int oh,
                         int ow, int activation, float *out);

/* GEMM for convolutions with weights packed once: dx_gemm_pack_b lays B [k][n] out as ceil(n/32)
 * panels of [k][32] (zero padded, k * ceil(n/32) * 32 floats; the same layout for every instruction
 * set); dx_gemm_packed computes c[m][n] = act(a[m][k] x B + bias[n]) (activation 0 none, 1 ReLU,
 * 2 ReLU6; rows of c `ldc` apart) with register tiles of 12 x 32 (AVX-512), 6 x 16 (AVX2) or 4 x 8
 * (portable), rows blocked so a block of A stays in L2. Every element is bias + a[i][0] b[0][j] +
 * a[i][1] b[1][j] + ... in that order, whatever the tile, block or row count: a row's result does
 * not depend on the other rows. Columns [32p, 32q) alone: pass packed + 32 p k, n = 32 (q - p) (or
 * what is left), bias + 32 p, c + 32 p. */
void dx_gemm_pack_b(const float *b, int k, int n, float *packed);
void dx_gemm_packed(int isa, const float *a, int m, int k, const float *packed, int n, int ldc, const float *bias,
                    int activation, float *c);
/* The same, then c[i][j] += add[i][j] (rows of `add` also `ldc` apart): a residual connection's sum
 * made as the tiles are stored (act(a x B + bias) + add, as the separate addition would give). An
 * activation code + 16 applies the activation after the addition instead: act(a x B + bias + add),
 * bit for bit what dx_add_activation gives on the stored product (a ResNet block's ReLU after its sum). */
void dx_gemm_packed_add(int isa, const float *a, int m, int k, const float *packed, int n, int ldc, const float *bias,
                        int activation, const float *add, float *c);
/* 1: the packed GEMM runs here (always, since it has a portable path; kept for callers). */
int dx_gemm_supported(void);

/* 3x3 stride-1 convolution by Winograd F(4x4, 3x3) over the packed GEMM.
 * dx_winograd_weights turns g [3][3][cin][cout] into u [36][cin][cout]; pack each of the 36 [cin][cout]
 * with dx_gemm_pack_b, `panel_stride` floats apart. dx_winograd_conv computes output rows
 * [4 tr0, 4 tr1) (clipped to oh) of one image: in [h][w][cin], out [oh][ow][cout] (the image's whole
 * output), bias and activation applied, positions outside the input zero; `scratch` holds
 * dx_winograd_scratch(ow, cin, cout) floats. */
void dx_winograd_weights(const float *g, int cin, int cout, float *u);
size_t dx_winograd_scratch(int ow, int cin, int cout);
void dx_winograd_conv(int isa, const float *in, int h, int w, int cin, int pad_top, int pad_left, const float *panels,
                      size_t panel_stride, int cout, const float *bias, int activation, int oh, int ow, int tr0, int tr1,
                      float *scratch, float *out);

/* Runs fn(ctx, i) for every i < count on up to `threads` cores (the caller's included), through a
 * pool of worker threads that spin briefly between calls; returns when all have run. One parallel
 * region at a time; fn must not call dx_parallel_for itself. */
typedef void (*dx_task_fn)(void *ctx, int index);
void dx_parallel_for(int count, int threads, dx_task_fn fn, void *ctx);

/* data[r][c] = act(data[r][c] + bias[c]) for r < rows. */
void dx_bias_activation(int isa, float *data, long rows, int c, const float *bias, int activation);
/* out[r][j] = act(in[r][j] * scale[j] + bias[j]) over `rows` rows of `c` channels (a BatchNorm on its own). */
void dx_scale_bias_activation(int isa, const float *in, float *out, long rows, int c, const float *scale,
                              const float *bias, int activation);

/* out[i] = act(a[i] + b[i]). */
void dx_add_activation(int isa, const float *a, const float *b, float *out, long count, int activation);

/* NCHW → NHWC: in [n][c][plane] to out [n][plane][c]. */
void dx_nchw_to_nhwc(int isa, const float *in, int n, int c, long plane, float *out);

/* out[i] = act(in[i]). */
void dx_activation(int isa, const float *in, float *out, long count, int activation);

/* Gradient through an activation (1 ReLU, 2 ReLU6) in place, from the activation's output:
 * grad[i] is kept where the output is on the activation's sloped part, zeroed elsewhere. */
void dx_activation_backward(int isa, const float *out, float *grad, long count, int activation);

/* Max (average = 0) or average (1, padding excluded) pooling, output [n][oh][ow][c], plus
 * `addend` [n][oh][ow][c] when not NULL (a residual connection's other branch). */
void dx_pool_nhwc(int isa, const float *in, int n, int h, int w, int c, int k, int stride, int pad_top,
                  int pad_left, int oh, int ow, int average, const float *addend, float *out);

#ifdef __cplusplus
}
#endif

#endif
