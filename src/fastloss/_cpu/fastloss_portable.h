/* Compiler builtins the kernels use, with their MSVC equivalents: prefetch, acquire/release
 * atomics on a 64-bit counter and the spin-wait pause. GCC and Clang (also clang-cl) take the
 * __builtin/__atomic forms; MSVC the intrinsics. */
#ifndef FASTLOSS_PORTABLE_H
#define FASTLOSS_PORTABLE_H

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

/* *p, with acquire ordering (a compare-exchange that changes nothing is a full-barrier read) */
static __forceinline long long fl_atomic_load_acquire(long long* p) {
    return _InterlockedCompareExchange64((volatile __int64*)p, 0, 0);
}

static __forceinline void fl_spin_pause(void) {
#if defined(_M_X64) || defined(_M_IX86)
    _mm_pause();
#elif defined(_M_ARM64)
    __yield();
#endif
}

#else  /* GCC, Clang */

static inline void fl_prefetch_read(const void* p) { __builtin_prefetch(p, 0, 1); }
static inline long long fl_atomic_increment(long long* p) { return __atomic_add_fetch(p, 1, __ATOMIC_ACQ_REL); }
static inline long long fl_atomic_load_acquire(long long* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void fl_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif

/* spins until *p >= v (acquire: everything written before the arrivals that got it there is seen) */
static inline void fl_spin_until_at_least(long long* p, long long v) {
    while (fl_atomic_load_acquire(p) < v) {
        fl_spin_pause();
    }
}

#endif
