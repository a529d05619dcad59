/* parallel.c — see dxkernels.h: a small pool of worker threads for splitting one operation of a
 * single image across cores. Workers spin briefly on a generation counter (a layer's operations
 * follow each other within microseconds), then sleep on a condition variable. */
#include "dxkernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>

#define MAX_WORKERS 63
#define SPIN_ROUNDS 200000

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
        int spins = 0;
        while ((atomic_load(&state) >> 32) == seen && spins < SPIN_ROUNDS) { cpu_relax(); spins++; }
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
    run_tasks(generation);
    while (atomic_load(&finished) < count) cpu_relax();
    pthread_mutex_unlock(&run_lock);
}
