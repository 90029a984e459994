/* The stop flag every OpenMP kernel shares with its team: a kernel never crashes on a failed
 * malloc and answers Ctrl-C while it runs.
 *
 * One FlGuard per kernel call, on the calling thread's stack, shared by the team:
 * - fl_guard_alloc: malloc that, failing (or on a size overflow), sets FL_NOMEM instead of
 *   returning memory to dereference; every thread checks the flag before each work item, so a
 *   thread whose scratch buffer is NULL never starts one;
 * - fl_guard_tick: called by every thread once per work item; cheap (a relaxed load) except every
 *   (mask + 1)th item, where the team's master thread (the Python thread that called the kernel)
 *   reads the clock and, every FL_POLL_SECONDS, takes the GIL to run PyErr_CheckSignals: an
 *   exception raised by a signal handler (KeyboardInterrupt) is kept in the guard and FL_SIGNAL set;
 * - after the parallel region, the def-level wrapper calls guard_raise (kernel_utils.pxd), which
 *   re-raises that exception or raises MemoryError.
 * The first clock reading only arms the timer, so a call shorter than FL_POLL_SECONDS never takes
 * the GIL. Results never depend on polling: a stop only skips work whose results are discarded.
 */
#ifndef FASTLOSS_GUARD_H
#define FASTLOSS_GUARD_H
#include <Python.h>
#include <stdlib.h>
#include <stdint.h>
#include "fastloss_omp.h"
#include "fastloss_portable.h"
#if !defined(_OPENMP) && !defined(_WIN32)
#include <time.h>
#endif

#define FL_NOMEM 1
#define FL_SIGNAL 2
/* Signals are checked at most this often. Taking the GIL can wait up to Python's switch interval
 * (5 ms) when another Python thread runs bytecode: at 50 ms that costs a kernel at most ~10%,
 * and Ctrl-C still answers well within a second. */
#define FL_POLL_SECONDS 0.05

typedef struct {
    int stop;                 /* FL_NOMEM | FL_SIGNAL bits; any thread sets them, all read them */
    double next_poll;         /* master thread only: when signals are next checked (0: timer not armed) */
    size_t failed_bytes;      /* the allocation that failed */
    PyObject *exc;            /* what a signal handler raised (before 3.12: type, value, traceback) */
    PyObject *exc_value;
    PyObject *exc_tb;
} FlGuard;

static inline void fl_guard_init(FlGuard *g)
{
    g->stop = 0;
    g->next_poll = 0.0;
    g->failed_bytes = 0;
    g->exc = g->exc_value = g->exc_tb = NULL;
}

static inline int fl_guard_stopped(const FlGuard *g)
{
    return fl_atomic_load_relaxed_int(&g->stop) != 0;
}

static inline void fl_guard_set(FlGuard *g, int why)
{
    fl_atomic_or_int(&g->stop, why);
}

static inline double fl_now(void)
{
#if defined(_OPENMP)
    return omp_get_wtime();
#elif defined(_WIN32)
    return (double)GetTickCount64() * 1e-3;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

/* n * size bytes, or NULL with FL_NOMEM set (malloc failed or the size does not fit in size_t). */
static void *fl_guard_alloc(FlGuard *g, size_t n, size_t size)
{
    void *p = NULL;
    size_t bytes;
    if (size != 0 && n > SIZE_MAX / size) {
        bytes = SIZE_MAX;
    } else {
        bytes = n * size;
        p = malloc(bytes ? bytes : 1);
    }
    if (p == NULL) {
        fl_atomic_store_size(&g->failed_bytes, bytes);  /* (any failed size will do) */
        fl_guard_set(g, FL_NOMEM);
    }
    return p;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int fl_guard_poll(FlGuard *g)
{
    double now;
    if (fl_guard_stopped(g) || omp_get_thread_num() != 0)
        return fl_guard_stopped(g);
    now = fl_now();
    if (g->next_poll == 0.0 || now < g->next_poll) {
        if (g->next_poll == 0.0)
            g->next_poll = now + FL_POLL_SECONDS;
        return 0;
    }
    g->next_poll = now + FL_POLL_SECONDS;
    {
        PyGILState_STATE st = PyGILState_Ensure();
        if (PyErr_CheckSignals() != 0) {
#if PY_VERSION_HEX >= 0x030C0000
            g->exc = PyErr_GetRaisedException();
#else
            PyErr_Fetch(&g->exc, &g->exc_value, &g->exc_tb);
#endif
            fl_guard_set(g, FL_SIGNAL);
        }
        PyGILState_Release(st);
    }
    return fl_guard_stopped(g);
}

/* Every thread, once per work item i: nonzero when the work is to stop. ``mask + 1`` (a power
 * of two) items between polls: fl_poll_mask. */
static inline int fl_guard_tick(FlGuard *g, long long i, long long mask)
{
    if (((i + 1) & mask) == 0)
        return fl_guard_poll(g);
    return fl_guard_stopped(g);
}

/* The poll interval, in work items of ``item_work`` elements each: a power of two of them,
 * 64K to 128K elements (tens of microseconds) between clock readings, at least every item. */
static inline long long fl_poll_mask(long long item_work)
{
    int log2_work;
    if (item_work >= 65536)
        return 0;
    if (item_work < 1)
        item_work = 1;
    log2_work = fl_floor_log2((unsigned long long)item_work);
    return (1LL << (16 - log2_work)) - 1;
}

/* After the parallel region, GIL held: put back the exception a signal handler raised. */
static inline void fl_guard_restore(FlGuard *g)
{
    if (g->exc == NULL)
        PyErr_SetNone(PyExc_KeyboardInterrupt);
    else
#if PY_VERSION_HEX >= 0x030C0000
        PyErr_SetRaisedException(g->exc);
#else
        PyErr_Restore(g->exc, g->exc_value, g->exc_tb);
#endif
    g->exc = g->exc_value = g->exc_tb = NULL;
}
#endif
