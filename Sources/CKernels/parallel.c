/* parallel.c — see dxkernels.h: a small pool of worker threads for splitting one operation of a
 * single image across cores. Workers spin briefly on a generation counter (a layer's operations
 * follow each other within microseconds), then sleep on a condition variable.
 *
 * Straggler guard: a region's tasks are shared in lock step, so a core taken away in the middle of
 * one (another process, the hypervisor) stalls the caller until it comes back, and on a busy
 * machine two cores would run a single image slower than one. When the caller, its own tasks done,
 * waits for another core longer than half what it worked itself (and over 50 us), the next regions run on
 * the caller alone — the same tasks, so the same results — before sharing is tried again: 16
 * regions, doubling on each repeat up to 1024, back to 16 after a region shared without such a
 * wait. While waiting, the caller yields its core after a short spin, in case the late worker
 * waits for it. */
#include "dxkernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define MAX_WORKERS 63
/* How long an idle worker spins for the next region before it sleeps: longer than the gaps
 * between one image's layers, short enough that a worker not needed (the straggler guard running
 * regions on the caller alone) soon stops taking a core from it. */
#define SPIN_SECONDS 300e-6

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER; /* one parallel region at a time */
static int workers = 0;
/* The current region in one word: generation (bits 32-63), task count (16-31), next index (0-15).
 * A task is claimed by a compare-and-swap on the whole word, so a worker late from an earlier
 * region can never claim a task of a later one. */
static _Atomic unsigned long long state = 0;
static atomic_int finished = 0;
static dx_task_fn task_fn;
static void *task_ctx;
/* Straggler guard (changed under run_lock): regions left to run on the caller alone, and the next stretch. */
static int serial_left = 0, serial_stretch = 16;
#define STRETCH_MIN 16
#define STRETCH_MAX 1024



static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void run_tasks(unsigned long long generation) {
    unsigned long long s = atomic_load(&state);
    for (;;) {
        if ((s >> 32) != generation) return;
        const unsigned count = (unsigned)(s >> 16) & 0xFFFF, index = (unsigned)s & 0xFFFF;
        if (index >= count) return;
        if (!atomic_compare_exchange_weak(&state, &s, s + 1)) continue;
        task_fn(task_ctx, (int)index);
        atomic_fetch_add(&finished, 1);
        s = atomic_load(&state);
    }
}

static void *worker(void *arg) {
    (void)arg;
    unsigned long long seen = atomic_load(&state) >> 32;
    for (;;) {
        /* Spinning, but giving the core up every 32 rounds to any thread waiting for it (the
         * caller may share this core when other processes hold the rest). */
        const double until = now_seconds() + SPIN_SECONDS;
        for (int spins = 1; (atomic_load(&state) >> 32) == seen; spins++) {
            cpu_relax();
            if (spins % 32 == 0) {
                sched_yield();
                if (now_seconds() > until) break;
            }
        }
        if ((atomic_load(&state) >> 32) == seen) {
            pthread_mutex_lock(&lock);
            while ((atomic_load(&state) >> 32) == seen) pthread_cond_wait(&wake, &lock);
            pthread_mutex_unlock(&lock);
        }
        seen = atomic_load(&state) >> 32;
        run_tasks(seen);
    }
    return NULL;
}

void dx_parallel_for(int count, int threads, dx_task_fn fn, void *ctx) {
    if (count <= 0) return;
    if (threads <= 1 || count == 1 || count > 0xFFFF) {
        for (int i = 0; i < count; i++) fn(ctx, i);
        return;
    }
    pthread_mutex_lock(&run_lock);
    if (serial_left > 0) {
        serial_left--;
        pthread_mutex_unlock(&run_lock);
        for (int i = 0; i < count; i++) fn(ctx, i);
        return;
    }
    while (workers < threads - 1 && workers < MAX_WORKERS) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, NULL) != 0) break;
        pthread_detach(t);
        workers++;
    }
    task_fn = fn;
    task_ctx = ctx;
    atomic_store(&finished, 0);
    const unsigned long long generation = (atomic_load(&state) >> 32) + 1;
    pthread_mutex_lock(&lock);
    atomic_store(&state, (generation << 32) | ((unsigned long long)count << 16));
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    const double t0 = now_seconds();
    run_tasks(generation);
    const double t1 = now_seconds();
    for (long spins = 0; atomic_load(&finished) < count; spins++) {
        if (spins < 4096) cpu_relax(); else sched_yield();
    }
    const double waited = now_seconds() - t1;
    if (waited > 50e-6 && waited > 0.5 * (t1 - t0)) {
        serial_left = serial_stretch;
        serial_stretch = serial_stretch * 2 > STRETCH_MAX ? STRETCH_MAX : serial_stretch * 2;
    } else {
        serial_stretch = STRETCH_MIN;
    }
    pthread_mutex_unlock(&run_lock);
}
