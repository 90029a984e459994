/* Compiler builtins and OS calls the kernels use, with their MSVC/Windows equivalents: prefetch,
 * atomics, the spin-wait pause, giving up a core, and the highest set bit. GCC and Clang (also
 * clang-cl) take the __builtin/__atomic forms; MSVC the intrinsics. */
#ifndef FASTLOSS_PORTABLE_H
#define FASTLOSS_PORTABLE_H
#include <stddef.h>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
static inline void fl_yield_core(void) { SwitchToThread(); }
static inline void fl_doze(void) { Sleep(0); }
#else
#include <sched.h>
#include <time.h>
static inline void fl_yield_core(void) { sched_yield(); }
/* 50 us: long enough to leave the core to others, short against the waits it is used in */
static inline void fl_doze(void) { struct timespec d = {0, 50000}; nanosleep(&d, NULL); }
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#if defined(_M_X64) || defined(_M_IX86)
#include <xmmintrin.h>
#endif

/* a read prefetch into the outer cache levels (GCC: __builtin_prefetch(p, 0, 1)) */
static __forceinline void fl_prefetch_read(const void* p) {
#if defined(_M_X64) || defined(_M_IX86)
    _mm_prefetch((const char*)p, _MM_HINT_T2);
#elif defined(_M_ARM64)
    __prefetch(p);
#else
    (void)p;
#endif
}

/* *p += 1, returning the new value; a full barrier (at least acquire-release) */
static __forceinline long long fl_atomic_increment(long long* p) {
    return _InterlockedIncrement64((volatile __int64*)p);
}

/* *p += 1, returning the old value (a work queue's next ticket; no ordering needed) */
static __forceinline long long fl_atomic_take(long long* p) {
    return _InterlockedExchangeAdd64((volatile __int64*)p, 1);
}

/* *p, with acquire ordering (a compare-exchange that changes nothing is a full-barrier read) */
static __forceinline long long fl_atomic_load_acquire(long long* p) {
    return _InterlockedCompareExchange64((volatile __int64*)p, 0, 0);
}

/* the stop flags: relaxed reads and an atomic or (MSVC's volatile int accesses are atomic) */
static __forceinline int fl_atomic_load_relaxed_int(const int* p) { return *(const volatile int*)p; }
static __forceinline void fl_atomic_or_int(int* p, int v) { _InterlockedOr((volatile long*)p, v); }
static __forceinline void fl_atomic_store_size(size_t* p, size_t v) { *(volatile size_t*)p = v; }

static __forceinline void fl_spin_pause(void) {
#if defined(_M_X64) || defined(_M_IX86)
    _mm_pause();
#elif defined(_M_ARM64)
    __yield();
#endif
}

/* the index of the highest set bit of v > 0 */
static __forceinline int fl_floor_log2(unsigned long long v) {
    int k = 0;
    while (v >>= 1)
        k++;
    return k;
}

#else  /* GCC, Clang */

static inline void fl_prefetch_read(const void* p) { __builtin_prefetch(p, 0, 1); }
static inline long long fl_atomic_increment(long long* p) { return __atomic_add_fetch(p, 1, __ATOMIC_ACQ_REL); }
static inline long long fl_atomic_take(long long* p) { return __atomic_fetch_add(p, 1, __ATOMIC_RELAXED); }
static inline long long fl_atomic_load_acquire(long long* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline int fl_atomic_load_relaxed_int(const int* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void fl_atomic_or_int(int* p, int v) { __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
static inline void fl_atomic_store_size(size_t* p, size_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline void fl_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
static inline int fl_floor_log2(unsigned long long v) { return 63 - __builtin_clzll(v); }

#endif
#endif
