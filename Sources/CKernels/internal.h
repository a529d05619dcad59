/* internal.h — private to CKernels: the clamping of a caller's instruction set to the CPU's, the
 * macros that compile a region of a file for one instruction set (clang and gcc alike, no
 * command-line flags needed), and the per-ISA entry points behind the public functions of dxkernels.h. */
#ifndef DX_INTERNAL_H
#define DX_INTERNAL_H

#include "dxkernels.h"

#include <stdatomic.h>
#include <stddef.h>

/* The CPU's best set (DX_ISA_*), a fact of the machine probed once (-1 until then): not a setting. */
extern _Atomic int dx_isa_cpu_best_probed;
/* `isa` as a kernel may run it: the caller's set, lowered to the CPU's best (so that a caller's
 * mistake costs speed, never an illegal instruction), raised to DX_ISA_GENERIC. */
static inline int dx_isa_usable(int isa) {
    int best = atomic_load_explicit(&dx_isa_cpu_best_probed, memory_order_relaxed);
    if (best < 0) best = dx_isa_cpu_best();
    return isa < DX_ISA_GENERIC ? DX_ISA_GENERIC : isa > best ? best : isa;
}

#if defined(__x86_64__)
#define DX_X86 1
/* AVX-512 here means F, BW, DQ, VL and CD (x86-64-v4: Skylake-SP, Zen 4 and later); AVX2 means
 * AVX2 with FMA, BMI1/2, F16C, LZCNT, MOVBE (x86-64-v3: Haswell, Zen 1 and later). */
#define DX_FEATURES_AVX512 "avx512f,avx512bw,avx512dq,avx512vl,avx512cd,avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt"
#define DX_FEATURES_AVX2 "avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt"
#define DX_TARGET_AVX512 __attribute__((target(DX_FEATURES_AVX512)))
#define DX_TARGET_AVX2 __attribute__((target(DX_FEATURES_AVX2)))
#define DX_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define DX_BEGIN_TARGET_(features) DX_PRAGMA(clang attribute push(__attribute__((target(features))), apply_to = function))
#define DX_END_TARGET _Pragma("clang attribute pop")
#else
#define DX_BEGIN_TARGET_(features) _Pragma("GCC push_options") DX_PRAGMA(GCC target(features))
#define DX_END_TARGET _Pragma("GCC pop_options")
#endif
/* Functions defined between DX_BEGIN_AVX512 (DX_BEGIN_AVX2) and DX_END_TARGET are compiled for that set. */
#define DX_BEGIN_AVX512 DX_BEGIN_TARGET_(DX_FEATURES_AVX512)
#define DX_BEGIN_AVX2 DX_BEGIN_TARGET_(DX_FEATURES_AVX2)
#else
#define DX_X86 0
#endif

/* Unrolls the next loop (a constant trip count) completely, so that arrays of registers indexed by
 * its variable stay in registers: clang's -O2 (SwiftPM's release setting) leaves such loops of 12
 * rolled, with the accumulators on the stack (the GEMM ran at half speed); -O3 would unroll them. */
#if defined(__clang__)
#define DX_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define DX_UNROLL _Pragma("GCC unroll 64")
#else
#define DX_UNROLL
#endif

/* A GEMM activation code with DX_ACT_AFTER_ADD set applies its activation (code & 15) after the
 * residual addend instead of before it: act(a x B + bias + add), a ResNet block's ReLU after its sum. */
#define DX_ACT_AFTER_ADD 16
static inline int dx_act_before_add(int code) { return (code & DX_ACT_AFTER_ADD) ? 0 : code; }
static inline int dx_act_after_add(int code) { return (code & DX_ACT_AFTER_ADD) ? (code & 15) : 0; }

#define DX_CAT_(a, b) a##b
#define DX_CAT(a, b) DX_CAT_(a, b)

/* GEMM (gemm.c drives, the files gemm_ISA.c hold the register tiles): rows [0, m) of c, a's rows
 * `lda` apart, B packed in 32-wide panels, `n` columns (of which the panels hold ceil(n/32)). */
#define DX_GEMM_ROWS_ARGS                                                                                     \
    const float *a, int m, int k, int lda, const float *packed, int n, int ldc, const float *bias, int activation, \
        const float *add, float *c
void dx_gemm_rows_generic(DX_GEMM_ROWS_ARGS);
#if DX_X86
void dx_gemm_rows_avx2(DX_GEMM_ROWS_ARGS);
void dx_gemm_rows_avx512(DX_GEMM_ROWS_ARGS);
#endif

/* Depthwise row kernels (depthwise_rows*.c): output rows [oy0, oy1) of one image for 3x3 and 5x5
 * kernels, stride 1 or 2; return 0 without touching `out` for other kernels. */
#define DX_DW_ROWS_ARGS                                                                                        \
    const float *src, int h, int w, int c, const float *weights, const float *bias, int k, int stride, int pad_top, \
        int pad_left, int oy0, int oy1, int ow, int activation, float *out
#if DX_X86
int dx_depthwise_rows_avx512(DX_DW_ROWS_ARGS);
int dx_depthwise_rows_avx2(DX_DW_ROWS_ARGS);
#endif

/* The portable kernels (portable_kernels.h), compiled once per instruction set (kernels.c). */
#define DX_PORTABLE_DECLARE(S)                                                                                 \
    void dx_depthwise_nhwc_##S(const float *in, int n, int h, int w, int c, const float *weights, const float *bias, \
                               int k, int stride, int pad_top, int pad_left, int oh, int ow, int activation, float *out); \
    void dx_conv_direct_nhwc_##S(const float *in, int n, int h, int w, int cin, const float *weights,              \
                                 const float *bias, int cout, int kh, int kw, int stride, int pad_top, int pad_left, \
                                 int oh, int ow, int activation, float *out);                                      \
    void dx_bias_activation_##S(float *data, long rows, int c, const float *bias, int activation);                 \
    void dx_scale_bias_activation_##S(const float *in, float *out, long rows, int c, const float *scale,           \
                                      const float *bias, int activation);                                          \
    void dx_add_activation_##S(const float *a, const float *b, float *out, long count, int activation);            \
    void dx_activation_##S(const float *in, float *out, long count, int activation);                              \
    void dx_activation_backward_##S(const float *out, float *grad, long count, int activation);                   \
    void dx_pool_nhwc_##S(const float *in, int n, int h, int w, int c, int k, int stride, int pad_top, int pad_left, \
                          int oh, int ow, int average, const float *addend, float *out);                          \
    void dx_nchw_to_nhwc_##S(const float *in, int n, int c, long plane, float *out);                           \
    void dx_winograd_input_band_##S(const float *in, int h, int w, int cin, int pad_top, int pad_left, int ow,      \
                                    int tr0, int tr1, float *v, size_t e_stride);                                  \
    void dx_winograd_output_band_##S(const float *m, size_t e_stride, int cout, const float *bias, int activation,  \
                                     int oh, int ow, int tr0, int tr1, float *out);
DX_PORTABLE_DECLARE(generic)
#if DX_X86
DX_PORTABLE_DECLARE(avx2)
DX_PORTABLE_DECLARE(avx512)
#endif

/* Calls NAME_generic, NAME_avx2 or NAME_avx512 with ARGS as the caller's instruction set ISA says. */
#if DX_X86
#define DX_DISPATCH(NAME, ISA, ARGS)                                                                           \
    do {                                                                                                       \
        switch (dx_isa_usable(ISA)) {                                                                          \
        case DX_ISA_AVX512: NAME##_avx512 ARGS; break;                                                         \
        case DX_ISA_AVX2: NAME##_avx2 ARGS; break;                                                             \
        default: NAME##_generic ARGS; break;                                                                   \
        }                                                                                                      \
    } while (0)
#else
#define DX_DISPATCH(NAME, ISA, ARGS) ((void)(ISA), NAME##_generic ARGS)
#endif

#endif
