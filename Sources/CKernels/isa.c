/* isa.c — the best instruction set this CPU runs (see dxkernels.h; callers pass the set each kernel
 * runs), and a measured multiply-add peak per set for the benchmarks' "% of peak". */
#include "internal.h"

#include <time.h>

#if DX_X86
#include <immintrin.h>
#endif

_Atomic int dx_isa_cpu_best_probed = -1;

static int cpu_best(void) {
#if DX_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx2")
        && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
        return DX_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi")
        && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c"))
        return DX_ISA_AVX2;
#endif
    return DX_ISA_GENERIC;
}

int dx_isa_cpu_best(void) {
    int best = atomic_load(&dx_isa_cpu_best_probed);
    if (best < 0) {
        best = cpu_best();
        atomic_store(&dx_isa_cpu_best_probed, best); /* every thread probes the same answer */
    }
    return best;
}

/* ---- multiply-add peak ------------------------------------------------------------------------------- */

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* `chains` independent accumulators (more than the pipes' latency x width needs) each get `rounds`
 * multiply-adds; the sum is returned so that nothing is optimised away. */
#define CHAINS 12

#if DX_X86
DX_TARGET_AVX512 static float peak_avx512(long rounds) {
    __m512 acc[CHAINS];
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    return _mm512_reduce_add_ps(s);
}

DX_TARGET_AVX2 static float peak_avx2(long rounds) {
    __m256 acc[CHAINS];
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}
#endif

/* Plain C the compiler vectorises for the baseline (SSE2 here: a multiply and an add per lane). */
static float peak_generic(long rounds) {
    float acc[CHAINS][4];
    for (int i = 0; i < CHAINS; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = (float)(i + j);
    volatile float xv = 0.999999f, yv = 1e-7f;
    const float x = xv, y = yv;
    for (long r = 0; r < rounds; r++)
        DX_UNROLL for (int i = 0; i < CHAINS; i++)
            DX_UNROLL for (int j = 0; j < 4; j++) acc[i][j] = acc[i][j] * x + y;
    float s = 0;
    for (int i = 0; i < CHAINS; i++)
        for (int j = 0; j < 4; j++) s += acc[i][j];
    return s;
}

static volatile float peak_sink;

double dx_fma_peak_gflops(int isa, double seconds) {
    isa = dx_isa_usable(isa);
    const int lanes = isa == DX_ISA_AVX512 ? 16 : isa == DX_ISA_AVX2 ? 8 : 4;
    long rounds = 1 << 16;
    double best = 0, spent = 0;
    while (spent < seconds) {
        const double t0 = now_seconds();
        switch (isa) {
#if DX_X86
        case DX_ISA_AVX512: peak_sink = peak_avx512(rounds); break;
        case DX_ISA_AVX2: peak_sink = peak_avx2(rounds); break;
#endif
        default: peak_sink = peak_generic(rounds); break;
        }
        const double dt = now_seconds() - t0;
        spent += dt;
        /* Windows of a few milliseconds, the best counting: on a shared machine some fall
         * between other processes' time slices. */
        if (dt < 0.003) { rounds *= 2; continue; }
        const double gflops = 2.0 * lanes * CHAINS * (double)rounds / dt / 1e9;
        if (gflops > best) best = gflops;
    }
    return best;
}
