"""Which instruction-set variant of the kernel modules this CPU can run."""

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    /* libgcc's checks include the OS's support for the YMM/ZMM state (XGETBV). */
    /* The variants are built with -mfma too (vecmath.h's polynomials): FMA is required. */
    static int fastloss_cpu_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int fastloss_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("fma");
    }
    #else
    static int fastloss_cpu_has_avx2(void) { return 0; }
    static int fastloss_cpu_has_avx512(void) { return 0; }
    #endif
    """
    int fastloss_cpu_has_avx2() nogil
    int fastloss_cpu_has_avx512() nogil


def has_avx2():
    """AVX2 and FMA: the features the ``avx2`` kernel variants are built with."""
    return bool(fastloss_cpu_has_avx2())


def has_avx512():
    """AVX-512 F, DQ, BW and VL, and FMA: the features the ``avx512`` kernel variants are built with."""
    return bool(fastloss_cpu_has_avx512())
