/* dxguard.h — names the file a thread was reading when the process dies of a fatal signal.
 *
 * A worker calls dx_guard_enter(path) before reading a file and dx_guard_leave() after. If the
 * process then receives SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE or SIGABRT on that thread (a
 * bug, a Swift runtime trap, a stack overflow — each thread that enters gets an alternate
 * signal stack), the handler writes "dxkit: fatal signal N while reading PATH" to standard
 * error and the path as one line to the quarantine log given to dx_guard_install, then lets the
 * previous handler (Swift's backtracer, or the default action) finish the process. Everything
 * in the handler is async-signal-safe (write(2) on pre-opened descriptors, no allocation).
 */
#ifndef DXGUARD_H
#define DXGUARD_H

#ifdef __cplusplus
extern "C" {
#endif

/* Remembers the quarantine log's path (the handler opens it, appending, only when something
 * crashes) and installs the handlers. Returns 0 on success. Calling it again switches logs. */
int dx_guard_install(const char *log_path);
/* The calling thread now reads `path` (copied; longer paths are cut at 4095 bytes). */
void dx_guard_enter(const char *path);
/* The calling thread is done with its file. */
void dx_guard_leave(void);

#ifdef __cplusplus
}
#endif

#endif
