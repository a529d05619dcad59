// dxguard.c — see dxguard.h.
#define _GNU_SOURCE
#include "dxguard.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DX_PATH_MAX 4096

static _Thread_local char current[DX_PATH_MAX];
static _Thread_local int has_altstack;
static char log_path_buf[DX_PATH_MAX];
static int installed;

static const int guarded[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT};
#define GUARDED (sizeof guarded / sizeof guarded[0])
static struct sigaction previous[GUARDED];

static void put(int fd, const char *text) {
    size_t n = strlen(text);
    while (n > 0) {
        ssize_t w = write(fd, text, n);
        if (w <= 0) return;
        text += w;
        n -= (size_t)w;
    }
}

static void on_fatal(int sig, siginfo_t *info, void *context) {
    (void)info; (void)context;
    if (current[0] != '\0') {
        char number[8];
        int n = sig, i = 7;
        number[i] = '\0';
        do { number[--i] = (char)('0' + n % 10); n /= 10; } while (n > 0 && i > 0);
        put(2, "\ndxkit: fatal signal ");
        put(2, number + i);
        put(2, " while reading ");
        put(2, current);
        put(2, "\n      (the file is quarantined: the next run records it as an error and goes on)\n");
        if (log_path_buf[0] != '\0') {
            // Opened only now (open(2) is async-signal-safe): no file exists until something crashes.
            int fd = open(log_path_buf, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0) {
                put(fd, current);
                put(fd, "\n");
                close(fd);
            }
        }
        current[0] = '\0';
    }
    // Hand over to whoever handled this signal before (Swift's backtracer, or the default
    // action): restore it and return, so a fault re-executes into it; re-raise the others.
    for (size_t k = 0; k < GUARDED; ++k) {
        if (guarded[k] == sig) sigaction(sig, &previous[k], NULL);
    }
    if (sig == SIGABRT || sig == SIGTRAP || sig == SIGFPE) raise(sig);
}

int dx_guard_install(const char *log_path) {
    size_t n = strlen(log_path);
    if (n >= DX_PATH_MAX) return -1;
    memcpy(log_path_buf, log_path, n + 1);
    if (installed) return 0;
    installed = 1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fatal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (size_t k = 0; k < GUARDED; ++k) sigaction(guarded[k], &action, &previous[k]);
    return 0;
}

void dx_guard_enter(const char *path) {
    if (!has_altstack) {
        // A stack overflow (deeply nested sequences) must still reach the handler.
        stack_t stack;
        memset(&stack, 0, sizeof stack);
        stack.ss_size = 64 * 1024;
        stack.ss_sp = malloc(stack.ss_size);
        if (stack.ss_sp != NULL && sigaltstack(&stack, NULL) == 0) has_altstack = 1;
    }
    size_t n = strlen(path);
    if (n >= DX_PATH_MAX) n = DX_PATH_MAX - 1;
    memcpy(current, path, n);
    current[n] = '\0';
}

void dx_guard_leave(void) { current[0] = '\0'; }
