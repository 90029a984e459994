/* One-thread parallel regions without the OpenMP runtime (GCC builds with libgomp only).
 *
 * Why: a kernel called with one thread (every small call: _losses/_common.threads_for) still
 * enters its `omp parallel` region, and libgomp then builds a team of one and releases two
 * barriers through futex system calls, about 0.8 us a call: more than the whole loop of an 8x10
 * loss. setup.py force-includes this file into every kernel module and links it with
 * -Wl,--wrap=GOMP_parallel (where a probe shows both work), so every region GCC outlines starts
 * here. With one thread asked for and no region active, the region's body runs directly in the
 * calling thread. That is the code a team of one runs: thread 0 of 1, the same static schedule;
 * the body's worksharing loops, barriers and critical sections become orphaned constructs, which
 * OpenMP defines (and libgomp implements) for an implicit team of one. Results are bit-identical.
 * Anything else (two or more threads, a nested region) goes to libgomp unchanged.
 */
#ifndef FASTLOSS_SERIAL_REGIONS_H
#define FASTLOSS_SERIAL_REGIONS_H
#include <omp.h>

void __real_GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);

__attribute__((visibility("hidden"))) void
__wrap_GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags)
{
    if (num_threads == 1 && omp_get_level() == 0) {
        fn(data);
        return;
    }
    __real_GOMP_parallel(fn, data, num_threads, flags);
}
#endif
