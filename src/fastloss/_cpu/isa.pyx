"""Which instruction-set variant of the kernel modules this CPU can run."""

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int fastloss_cpu_has_avx2(void) {
        __builtin_cpu_init();
        /* libgcc's check includes the OS's support for the YMM state (XGETBV). */
        return __builtin_cpu_supports("avx2");
    }
    #else
    static int fastloss_cpu_has_avx2(void) { return 0; }
    #endif
    """
    int fastloss_cpu_has_avx2() nogil


def has_avx2():
    return bool(fastloss_cpu_has_avx2())
