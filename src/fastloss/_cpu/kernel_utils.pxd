# Shared pieces of every CPU kernel: the stop guard (failed mallocs, Ctrl-C), the float32/float64
# fused type, dtype-generic math helpers (so one kernel body serves both precisions), and
# block-level helpers used by the fused loops.
from libc.math cimport exp, expf, log, logf, log1p, log1pf, fabs, fabsf, sqrt, sqrtf, INFINITY, NAN

# exp/log/log1p that GCC vectorises (branch-free C, libm's IEEE special cases): see vecmath.h
cdef extern from "vecmath.h" nogil:
    double fl_exp(double x)
    float fl_expf(float x)
    double fl_log(double x)
    float fl_logf(float x)
    double fl_log1p(double x)
    float fl_log1pf(float x)
    double fl_exp_neg(double x)
    float fl_expf_neg(float x)
    double fl_log_unit(double x)
    float fl_logf_unit(float x)
    double fl_log1m_unit(double x)
    float fl_log1mf_unit(float x)
    double fl_log1p_unit(double x)
    float fl_log1pf_unit(float x)
    float fl_log1pf_unit_fast(float x)

# The stop flag a kernel's team shares (fastloss_guard.h): failed mallocs and Ctrl-C. The pattern,
# the same in every kernel:
#     cdef FlGuard guard
#     fl_guard_init(&guard)
#     with nogil, parallel(num_threads=n_threads):
#         buf = <T*> fl_guard_alloc(&guard, n, sizeof(T))     # NULL (and the flag set) on failure
#         for i in prange(n_items):
#             if fl_guard_tick(&guard, i, mask):              # mask = fl_poll_mask(work per item)
#                 continue                                    # stopped: skip (nothing reads the results)
#             ...
#         free(buf)
#     guard_raise(&guard)                                     # KeyboardInterrupt (or what a handler raised) / MemoryError
cdef extern from "fastloss_guard.h" nogil:
    ctypedef struct FlGuard:
        int stop
        size_t failed_bytes
    int FL_NOMEM
    int FL_SIGNAL
    void fl_guard_init(FlGuard* g)
    bint fl_guard_stopped(const FlGuard* g)
    void* fl_guard_alloc(FlGuard* g, size_t n, size_t size)
    bint fl_guard_tick(FlGuard* g, long long i, long long mask)
    bint fl_guard_poll(FlGuard* g)
    long long fl_poll_mask(long long item_work)
    void fl_guard_restore(FlGuard* g)


cdef inline int guard_raise(FlGuard* g) except -1:
    """After a kernel's parallel region: re-raise what a signal handler raised, or MemoryError."""
    if g.stop & FL_SIGNAL:
        fl_guard_restore(g)
        return -1
    if g.stop & FL_NOMEM:
        raise MemoryError(f"fastloss: out of memory for a kernel's work space ({g.failed_bytes} bytes "
                          f"could not be allocated)")
    return 0


ctypedef fused floating:
    float
    double

# Elements per work block: large enough to amortise scheduling, small enough that a block's
# loss and gradient scratch stays in L1/L2 while it is reduced and scaled.
cdef enum:
    BLOCK = 2048


cdef inline floating f_exp(floating v) noexcept nogil:
    if floating is float:
        return fl_expf(v)
    else:
        return fl_exp(v)


cdef inline floating f_log(floating v) noexcept nogil:
    if floating is float:
        return fl_logf(v)
    else:
        return fl_log(v)


cdef inline floating f_log1p(floating v) noexcept nogil:
    if floating is float:
        return fl_log1pf(v)
    else:
        return fl_log1p(v)


cdef inline floating f_exp_neg(floating v) noexcept nogil:
    """exp for v <= 0 (or NaN): f_exp's value with one scaling step instead of two (softplus)."""
    if floating is float:
        return fl_expf_neg(v)
    else:
        return fl_exp_neg(v)


cdef inline floating f_log_unit(floating v) noexcept nogil:
    """log for 0 <= v <= 1 (or NaN), binary_cross_entropy's log(p): called with f_log1m_unit on the
    same v, the compiler computes the pair's shared work once (vecmath.h's fl_vm_log_pair)."""
    if floating is float:
        return fl_logf_unit(v)
    else:
        return fl_log_unit(v)


cdef inline floating f_log1m_unit(floating v) noexcept nogil:
    """log1p(-v) for 0 <= v <= 1 (or NaN), binary_cross_entropy's log(1 - p): see f_log_unit."""
    if floating is float:
        return fl_log1mf_unit(v)
    else:
        return fl_log1m_unit(v)


cdef inline floating f_log1p_unit(floating v) noexcept nogil:
    """log1p for 0 <= v <= 1 (or NaN): f_log1p's value without its special cases (softplus)."""
    if floating is float:
        return fl_log1pf_unit(v)
    else:
        return fl_log1p_unit(v)


cdef inline floating f_log1p_unit_fast(floating v) noexcept nogil:
    """f_log1p_unit in fewer operations for float32 (<= 1.2 ulp instead of 0.9: softplus in the
    float32 losses, far inside their tolerance); float64 is f_log1p_unit."""
    if floating is float:
        return fl_log1pf_unit_fast(v)
    else:
        return fl_log1p_unit(v)


cdef inline floating f_abs(floating v) noexcept nogil:
    if floating is float:
        return fabsf(v)
    else:
        return fabs(v)


cdef inline floating f_sqrt(floating v) noexcept nogil:
    if floating is float:
        return sqrtf(v)
    else:
        return sqrt(v)


cdef inline floating f_max(floating a, floating b) noexcept nogil:
    # NaN in ``a`` propagates, as torch's clamp_min / max(a, 0) do for the input.
    return a if (a > b or a != a) else b


cdef inline floating f_min(floating a, floating b) noexcept nogil:
    return a if (a < b or a != a) else b


cdef inline double sum_block(const floating* v, Py_ssize_t n) noexcept nogil:
    """Sum ``n`` values in double with sixteen independent accumulators, combined pairwise. The
    lanes are independent, so GCC vectorises the loop (two AVX-512 / four AVX2 double vectors)
    without reassociating anything: the result is the same on every ISA. Each partial sum is
    short, so float32 inputs lose nothing against torch's cascade sum."""
    cdef double a[16]
    cdef Py_ssize_t i = 0, j
    for j in range(16):
        a[j] = 0
    while i + 16 <= n:
        for j in range(16):
            a[j] += v[i + j]
        i += 16
    while i < n:
        a[i & 15] += v[i]
        i += 1
    for j in range(8):
        a[j] += a[j + 8]
    return combine8(a)


cdef inline double combine8(double* a) noexcept nogil:
    """Eight partial sums combined pairwise (the end of sum_block's order)."""
    cdef Py_ssize_t j
    for j in range(4):
        a[j] += a[j + 4]
    return (a[0] + a[2]) + (a[1] + a[3])


cdef inline double sq_diff_sum(const floating* u, Py_ssize_t us, const floating* v, Py_ssize_t vs,
                               Py_ssize_t n, floating eps) noexcept nogil:
    """Sum over k of (u[k] - v[k] + eps)^2, the difference formed in the input's precision (as
    torch's pairwise_distance) and squared and summed in double, with sixteen independent
    accumulators as sum_block: one sum in order is a chain of dependent additions, four cycles an
    element, which cost 0.94 ns an element of triplet_margin_loss (8192x512, one thread). The same
    result on every ISA. Pass literal strides of 1 for the contiguous case (the call is inlined)."""
    cdef double a[16]
    cdef double d
    cdef floating t
    cdef Py_ssize_t i = 0, j
    for j in range(16):
        a[j] = 0
    while i + 16 <= n:
        for j in range(16):
            t = u[(i + j) * us] - v[(i + j) * vs] + eps
            d = t
            a[j] += d * d
        i += 16
    while i < n:
        t = u[i * us] - v[i * vs] + eps
        d = t
        a[i & 15] += d * d
        i += 1
    for j in range(8):
        a[j] += a[j + 8]
    return combine8(a)


cdef inline void dot3(const floating* u, Py_ssize_t us, const floating* v, Py_ssize_t vs, Py_ssize_t n,
                      double* uv, double* uu, double* vv) noexcept nogil:
    """The three sums u.v, u.u and v.v in double (cosine similarity), eight independent
    accumulators each (three vectors of AVX-512 doubles), combined pairwise: the same result on
    every ISA. Literal strides of 1 for the contiguous case, as sq_diff_sum."""
    cdef double a[8]
    cdef double b[8]
    cdef double c[8]
    cdef double x, y
    cdef Py_ssize_t i = 0, j
    for j in range(8):
        a[j] = 0
        b[j] = 0
        c[j] = 0
    while i + 8 <= n:
        for j in range(8):
            x = u[(i + j) * us]
            y = v[(i + j) * vs]
            a[j] += x * y
            b[j] += x * x
            c[j] += y * y
        i += 8
    while i < n:
        x = u[i * us]
        y = v[i * vs]
        a[i & 7] += x * y
        b[i & 7] += x * x
        c[i & 7] += y * y
        i += 1
    uv[0] = combine8(a)
    uu[0] = combine8(b)
    vv[0] = combine8(c)


cdef inline void scale_block(floating* g, Py_ssize_t n, double s) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating fs = <floating>s
    for i in range(n):
        g[i] = g[i] * fs


cdef inline void multiply_block(floating* g, const floating* go, Py_ssize_t stride, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if stride == 1:
        for i in range(n):
            g[i] = g[i] * go[i]
    else:
        for i in range(n):
            g[i] = g[i] * go[i * stride]
