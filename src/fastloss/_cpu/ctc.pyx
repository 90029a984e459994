# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""CTC loss: forward (negative log-likelihood) and the fused forward + gradient, per sample.

Lattice: the 2L+1 states of the blank-extended target are kept split into even states
(blanks, ``ev[j]`` = state 2j, j = 0..L) and odd states (labels, ``od[j]`` = state 2j+1,
j = 0..L-1), so the recurrence over one time step is two contiguous, vectorisable loops:

    alpha_t(ev j) = (alpha(ev j) + alpha(od j-1)) * y_t(blank)
    alpha_t(od j) = (alpha(od j) + alpha(ev j) + skip_j * alpha(od j-1)) * y_t(label j)

with ``skip_j`` = 1 when label j differs from label j-1. ``od`` buffers carry one leading zero
(``od[-1]``) so no loop needs a special first element.

Representation: probabilities in double, rescaled at every time step (each row is divided by
its sum, folded into the next step's emissions, and the log of the factors is accumulated).
This makes the recurrence plain multiply-adds (the log-space recurrence needs three
transcendental functions per state and step). Emissions are gathered BLOCK_T steps at a time,
per lattice column (blank, label 0..L-1), and exponentiated in one vectorised loop: a step
whose log-probs all have normal, finite exps in the input's precision (the common case) takes
plain exp(log_prob) in that precision; any other step is shifted by its maximum and
exponentiated in double. The forward records which steps were plain, and the gradient's beta
sweep takes those steps' emissions from the exp of the whole row it computes for the gradient
anyway (bit-identical values, no second gather). Only the reachable band of states is
computed: states a path cannot have reached yet, and states from which the end can no longer be
reached, are skipped.

Underflow guard (a finite loss is never turned into inf or nan, nor into a wrong finite value
by states lost to underflow):
* a row whose sum collapses (below 1e-250 in one step, e.g. emissions of -1e4 on every
  surviving path), or a sample ending with no probability: recomputed in log space;
* fused gradient: ``sum_s alpha_t(s) beta_t(s)`` must equal the likelihood (checked every
  CHECK_EVERY steps and at t = 0; mass lost in alpha shows at every later step, mass lost in
  beta at every earlier one), else the sample is recomputed in log space;
* forward only: when a state underflowed (below TINY from non-zero predecessors and emission),
  an O(S) beta sweep checks ``sum_s alpha_t(s) beta_t(s)`` against the likelihood first, at the
  last step t before the first underflow (that alpha row is kept; it is exact).
The log-space fallback (``forward_log``, ``backward_log``) is the plain recurrence with log-add-exp,
in branch-free loops that vectorise.

Gradient (torch's convention, the logits' gradient when log_probs = log_softmax(logits)):
    grad[t, n, k] = scale_n * (exp(log_probs[t, n, k]) - sum_{s: label(s) = k} gamma_t(s)),
    gamma_t(s) = alpha_t(s) beta_t(s) / sum_s' alpha_t(s') beta_t(s')
for t < input_length, 0 after. beta is swept backwards with two rows and the gradient row is
written as soon as beta_t is known, so the fused call stores one alpha table per sample in
flight (one per thread); forward-only calls keep O(S) rows and an O(BLOCK_T * S) emission block.
Samples are taken longest first (dynamic schedule). With fewer samples than threads, each
sample (T >= SPLIT_MIN_T) is two tasks run concurrently, alpha over t <= mid and beta over
t > mid (log Z = log sum_s alpha_mid(s) beta_mid(s)):
* forward only, each half with O(S) state and its own underflow flags; the task finishing
  second (an atomic counter per sample) combines them; a half that underflowed, collapsed or met
  a NaN stops and runs the whole sample sequentially instead;
* gradient: the gradient's exp(log_probs) rows are first written by all threads; the halves store
  their rows in the sample's one table (alpha up to mid, beta above), wait for each other, then
  each goes on through the other's rows, writing their posteriors (target classes only) against
  the stored rows; any failed check sends the sample to the sequential sweep.
"""
from cython.parallel cimport prange, parallel
from libc.stdlib cimport free
from libc.math cimport INFINITY, NAN, isinf

from .kernel_utils cimport (floating, f_exp, f_log, f_log1p, sum_block, FlGuard, fl_guard_init, fl_guard_alloc,
                            fl_guard_tick, fl_guard_stopped, fl_poll_mask, guard_raise)
from .common_case cimport (SMALL_SUM, mean_or_sum, plain_array, partials_sum, scalar_result, team_size,
                           wants_only)
cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef extern from "fastloss_omp.h" nogil:
    int omp_get_num_threads()

ctypedef long long i64

# A row sum below this after one step means the step lost more than ~575 nats at once:
# probabilities may have underflowed on every surviving path; recompute in log space.
cdef double COLLAPSE = 1e-250
# A state probability below this (DBL_MIN: subnormal or 0) has lost precision to underflow.
cdef double TINY = 2.2250738585072014e-308


cdef struct Sample:
    const i64* labels    # L labels
    i64 L                # target length
    i64 Tn               # input length
    i64 n                # batch index
    i64 C                # classes (row length)
    const i64* slot      # slot[j]: index of label j among the distinct classes
    const i64* slot_class  # the distinct classes, blank first
    const i64* cls_col   # cls_col[u]: a column of the emission row holding class u
    i64 U                # how many
    double* ucls         # scratch: the distinct classes' emissions of one step (gradient sweep)
    double* yrow         # scratch: one emission row (gradient sweep)
    FlGuard* guard       # the call's stop flag: every sweep polls it (``polls``) and ends early when set
    long long poll       # ... every poll + 1 time steps


cdef inline bint polls(const Sample* s, i64 t) noexcept nogil:
    """A sweep's check at step t: True when the call is stopping (out of memory or interrupted); the
    sweep then returns at once (any value: the call raises). About every 64K lattice cells."""
    return fl_guard_tick(s.guard, t, s.poll)


cdef inline Sample make_sample(const i64* labels, i64 L, i64 Tn, i64 n, const i64* slot, const i64* slot_class,
                               const i64* cls_col, double* ucls, double* yrow, FlGuard* guard) noexcept nogil:
    cdef Sample s
    s.labels = labels
    s.L = L
    s.Tn = Tn
    s.n = n
    s.C = 0
    s.slot = slot
    s.slot_class = slot_class
    s.cls_col = cls_col
    s.U = 0
    s.ucls = ucls
    s.yrow = yrow
    s.guard = guard
    s.poll = fl_poll_mask(2 * L + 1)
    return s


# Emissions are gathered BLOCK_T time steps at a time: a sample's rows are N * C elements
# apart, and gathering one row per lattice step would wait on each row's cache/TLB miss.
cdef enum:
    BLOCK_T = 16
    CHECK_EVERY = 16   # a power of two
    # forward-only calls with fewer samples than threads split samples at least this long
    # between two threads (alpha over the first half, beta over the second)
    SPLIT_MIN_T = 64
    # rows are prefetched this many steps ahead of the sweeps: a whole block, so every row of
    # the next block has been asked for by the time that block is gathered
    PREFETCH_AHEAD = BLOCK_T
    # exp_row's padded tail block: one AVX-512 vector of floats
    EXP_TAIL = 16


cdef inline double log_add(double a, double b) noexcept nogil:
    """log(exp(a) + exp(b)), exact for -inf operands."""
    cdef double t
    if a < b:
        t = a
        a = b
        b = t
    if b == -INFINITY:
        return a
    return a + log1p_d(exp_d(b - a))


cdef inline double exp_d(double v) noexcept nogil:
    return f_exp(v)


cdef inline double log_d(double v) noexcept nogil:
    return f_log(v)


cdef inline double log1p_d(double v) noexcept nogil:
    return f_log1p(v)


cdef inline void band(i64 t, i64 Tn, i64 L, i64* e_lo, i64* e_hi, i64* o_lo, i64* o_hi) noexcept nogil:
    """States that are reachable at t and can still reach the end: s in [s_lo, s_hi]."""
    cdef i64 s_lo = 2 * L - 1 - 2 * (Tn - 1 - t)
    cdef i64 s_hi = 2 * t + 1
    if s_lo < 0:
        s_lo = 0
    if s_hi > 2 * L:
        s_hi = 2 * L
    e_lo[0] = (s_lo + 1) // 2
    e_hi[0] = s_hi // 2
    o_lo[0] = s_lo // 2
    o_hi[0] = (s_hi - 1) // 2 if s_hi >= 1 else -1


cdef inline i64 required_length(const i64* labels, i64 L) noexcept nogil:
    """Fewest time steps that can emit the target: one per label plus a blank between repeats."""
    cdef i64 j, r = L
    for j in range(1, L):
        if labels[j] == labels[j - 1]:
            r += 1
    return r


cdef struct EmCache:
    double* y      # BLOCK_T x (L + 2): per state column: [blank, label 0..L-1, 0]
    double* m      # BLOCK_T shifts
    i64 t0         # first time step held
    i64 n          # how many
    unsigned char* plain  # or NULL: plain[t] = whether step t passed the plain_exp_unsafe test (whole sample)


cdef inline i64 plain_exp_unsafe(const double* v, i64 n, bint single) noexcept nogil:
    """How many of a step's emission log-probs keep it from being taken as plain exp(log_prob),
    unshifted: NaN, or an exp that is not a normal, finite number in the input's precision (-inf,
    whose exp is 0 exactly, is fine). 0 for the common step. The forward (``fill_block``) decides
    with this test and records its verdict (``EmCache.plain``); the gradient's backward sweep
    follows it, so both sweeps see bit-identical emissions. (A count, not early exits: the loop
    vectorises.)"""
    # (float32: exp in float, its range; float64: a row sum adds up to three times the largest
    # emission, which must stay finite)
    cdef double lo = -87.0 if single else -708.0
    cdef double hi = 88.0 if single else 700.0
    cdef i64 u, bad = 0
    for u in range(n):
        bad += <i64>(v[u] != v[u]) + <i64>(v[u] > hi) + <i64>(v[u] < lo) * <i64>(v[u] > -INFINITY)
    return bad


cdef void fill_block(const floating* lp, Py_ssize_t ts, Py_ssize_t cs, Sample s, EmCache* ec, i64 t0,
                     i64 n) noexcept nogil:
    """Emission rows of time steps t0..t0+n-1, per lattice column [blank, label 0..L-1, 0]: one
    tight gather over the rows (their cache misses overlap), then one exp per column (a label's
    exp per position, not per distinct class: an exp vectorises, an indirect expansion does not).

    A step passing the ``plain_exp_unsafe`` test (the common case) gets exp(log_prob) in the
    input's precision, shift 0. Any other step is shifted by the maximum of its emissions (exp
    never overflows) and exponentiated in double; a NaN makes the whole step NaN (and so the
    sample's loss, as in torch); all -inf gives all 0."""
    cdef i64 r, j, L = s.L
    cdef const floating* row
    cdef double* yr
    cdef double m, v
    cdef bint has_nan, plain
    cdef Py_ssize_t blank_off = s.slot_class[0] * cs
    cdef i64 n_plain = 0
    for r in range(n):
        row = lp + (t0 + r) * ts
        yr = ec.y + r * (L + 2)
        yr[0] = row[blank_off]
        for j in range(L):
            yr[1 + j] = row[s.labels[j] * cs]
        yr[L + 1] = 0.0
    for r in range(n):
        plain = plain_exp_unsafe(ec.y + r * (L + 2), L + 1, sizeof(floating) == 4) == 0
        n_plain += plain
        if ec.plain != NULL:
            ec.plain[t0 + r] = plain
    if n_plain == n:
        # the common block: one exp loop over all its rows (long and vectorised; the last
        # column's exp(0) is reset to 0 below)
        for j in range(n * (L + 2)):
            ec.y[j] = <double>f_exp(<floating>ec.y[j])
    for r in range(n):
        yr = ec.y + r * (L + 2)
        if n_plain == n:
            ec.m[r] = 0.0
        elif plain_exp_unsafe(yr, L + 1, sizeof(floating) == 4) == 0:
            ec.m[r] = 0.0
            for j in range(L + 1):
                yr[j] = <double>f_exp(<floating>yr[j])
        else:
            m = -INFINITY
            has_nan = False
            for j in range(L + 1):
                v = yr[j]
                has_nan = has_nan or v != v
                if v > m:
                    m = v
            if has_nan:
                m = NAN
            elif m == -INFINITY:
                m = 0.0
            ec.m[r] = m
            for j in range(L + 1):
                yr[j] = exp_d(yr[j] - m)
        yr[L + 1] = 0.0
    ec.t0 = t0
    ec.n = n


cdef inline void row_emissions(const floating* lprow, Py_ssize_t cs, i64 C, Sample s, double scale,
                               floating* grow, floating* erow, double* ucls, double* y) noexcept nogil:
    """A gradient sweep's step that passed the ``plain_exp_unsafe`` test: ``erow[k] = exp(lp[k])``
    and ``grow[k] = scale * erow[k]`` for every class (the gradient of the classes outside the
    target), then the target's emissions, per class (``ucls``) and per column (``y``), from
    ``erow`` (bit-identical to the forward's: no second gather and exp of them)."""
    cdef i64 u, j
    exp_row(lprow, cs, grow, C, scale, erow)
    for u in range(s.U):
        ucls[u] = erow[s.slot_class[u]]
    y[0] = ucls[0]
    for j in range(s.L):
        y[1 + j] = erow[s.labels[j]]
    y[s.L + 1] = 0.0


cdef extern from *:
    """
    #include "fastloss_portable.h"
    /* The log-space sweeps' arithmetic, branch-free so that their loops vectorise. Selects that
     * feed further arithmetic are done on the bits with integer operations: GCC (with its default
     * -ftrapping-math) does not if-convert "c ? 0.0 : x" there, and SSE2 has no 64-bit integer
     * compare, so "u != 0" is a sign bit: (u | -u) >> 63. */
    static inline uint64_t fl_ctc_nonzero(uint64_t u) { return (uint64_t)0 - ((u | ((uint64_t)0 - u)) >> 63); }
    /* log(exp(a) + exp(b)) as log_add computes it (max + log1p(exp(min - max)), the same bits),
     * without its branches: two -inf give -inf (the shift is taken as 0, so no NaN appears), a
     * NaN operand gives NaN. */
    static inline double fl_ctc_lse2(double a, double b) {
        double hi = a > b ? a : b;
        double lo = a > b ? b : a;
        uint64_t hb = fl_vm_bits(hi);
        double base = fl_vm_double(hb & fl_ctc_nonzero(hb + 0x0010000000000000ull)); /* -inf -> 0 */
        return hi + fl_log1p(fl_exp(lo - base));
    }
    /* v where skip != 0, else none */
    static inline double fl_ctc_pick(double skip, double v, double none) {
        uint64_t m = fl_ctc_nonzero(fl_vm_bits(skip));
        return fl_vm_double((fl_vm_bits(v) & m) | (fl_vm_bits(none) & ~m));
    }
    /* One wait step: the master thread polls signals. The waiter spins briefly (the usual wait is
     * short), then yields its core (the machine may have fewer free cores than the team has
     * threads), and after a few ms dozes 50 us at a time (its partner may run for seconds). */
    static inline int fl_ctc_wait_step(FlGuard* g, long long* spins) {
        if (fl_guard_tick(g, (*spins)++, 1023))
            return 1;
        if (*spins > 4096)
            fl_doze();
        else if (*spins > 1024)
            fl_yield_core();
        else
            fl_spin_pause();
        return 0;
    }
    static inline void fl_ctc_wait_for(long long* p, long long v, FlGuard* g) {
        long long spins = 0;
        while (fl_atomic_load_acquire(p) < v)
            if (fl_ctc_wait_step(g, &spins))
                return;
    }
    static inline void fl_ctc_leave(long long* left, int team, FlGuard* g) {
        long long spins = 0;
        if (omp_get_thread_num() != 0) {
            fl_atomic_increment(left);
            return;
        }
        while (fl_atomic_load_acquire(left) < team - 1)
            fl_ctc_wait_step(g, &spins);
    }
    """
    void fl_ctc_prefetch "fl_prefetch_read"(const void* p) nogil
    # spins until *p >= v (acquire: everything written before the arrivals that got it there is
    # seen), or until the call stops (out of memory, interrupted: the caller checks the guard)
    void fl_ctc_wait_for(long long* p, long long v, FlGuard* g) nogil
    double lse2 "fl_ctc_lse2"(double a, double b) nogil
    double pick_skip "fl_ctc_pick"(double skip, double v, double none) nogil
    # increments *p atomically and returns the new value; acquire-release, so the task that
    # arrives second sees everything the first one wrote before arriving
    long long fl_ctc_arrive "fl_atomic_increment"(long long* p) nogil
    # the next task of the work queue *p (tasks are taken in order)
    long long fl_ctc_take "fl_atomic_take"(long long* p) nogil
    # the end of a thread's task loop: the others count themselves out in *left; the master thread
    # (the only one that can run Python's signal handlers) waits there, polling, until all have left,
    # instead of in OpenMP's barrier, so Ctrl-C is answered while another thread runs a long sample
    void fl_ctc_leave(long long* left, int team, FlGuard* g) nogil


cdef inline void prefetch_bytes(const char* p, Py_ssize_t nbytes) noexcept nogil:
    cdef Py_ssize_t off = 0
    while off < nbytes:
        fl_ctc_prefetch(p + off)
        off += 64


cdef inline void prefetch_ahead(const floating* lp, Py_ssize_t ts, Py_ssize_t cs, Sample s, i64 t,
                                bint forward) noexcept nogil:
    """Ask for the row PREFETCH_AHEAD steps ahead of step t in the sweep's direction (a sample's
    rows are N * C elements apart, too far for the hardware prefetcher): one row per step keeps
    few misses in flight, and every row of the next block has been asked for by the time that
    block is gathered."""
    cdef i64 ta = t + PREFETCH_AHEAD if forward else t - PREFETCH_AHEAD
    if 0 <= ta < s.Tn:
        prefetch_bytes(<const char*>(lp + ta * ts), s.C * cs * sizeof(floating))


cdef inline EmCache make_cache(double* buf, i64 Lmax) noexcept nogil:
    # returned by value: assigned inside the parallel block, the cache is thread-private
    cdef EmCache ec
    ec.y = buf
    ec.m = ec.y + BLOCK_T * (Lmax + 2)
    ec.n = 0
    ec.t0 = 0
    ec.plain = NULL
    return ec


cdef inline double emissions(const floating* lp, Py_ssize_t ts, Py_ssize_t cs, Sample s, EmCache* ec, i64 t,
                             bint forward, double** y) noexcept nogil:
    """The emission row of step t (``y[0]`` blank, ``y[1 + j]`` label j) and its shift m."""
    cdef i64 t0
    if not (ec.t0 <= t < ec.t0 + ec.n):
        if forward:
            t0 = t
            fill_block(lp, ts, cs, s, ec, t0, BLOCK_T if t0 + BLOCK_T <= s.Tn else s.Tn - t0)
        else:
            t0 = t - BLOCK_T + 1 if t >= BLOCK_T - 1 else 0
            fill_block(lp, ts, cs, s, ec, t0, t - t0 + 1)
    prefetch_ahead(lp, ts, cs, s, t, forward)
    y[0] = ec.y + (t - ec.t0) * (s.L + 2)
    return ec.m[t - ec.t0]


cdef inline double alpha_step(const double* pe, const double* po, double* ne, double* no, const double* y,
                              const double* skip, double c, i64 L, i64 e_lo, i64 e_hi, i64 o_lo,
                              i64 o_hi, i64* lost) noexcept nogil:
    """One alpha step (rows with od[-1] at index -1 of ``po``/``no``); returns the row sum.

    ``lost`` (or NULL) counts states whose probability underflowed (below TINY although their
    predecessors and emission are not 0): the forward-only guard, which has no beta to check.
    The loops are pure maps (vectorised); the sum is taken afterwards with four accumulators."""
    cdef i64 j
    cdef double yb = y[0] * c, v, pre, yj
    cdef i64 n_lost = 0
    no[-1] = 0.0
    if lost == NULL:
        for j in range(e_lo, e_hi + 1):
            ne[j] = (pe[j] + po[j - 1]) * yb
        for j in range(o_lo, o_hi + 1):
            no[j] = (po[j] + pe[j] + skip[j] * po[j - 1]) * (y[1 + j] * c)
    else:
        # count the states that went below TINY from non-zero predecessors and emission (an
        # integer count, so the loops stay vectorised)
        for j in range(e_lo, e_hi + 1):
            pre = pe[j] + po[j - 1]
            v = pre * yb
            ne[j] = v
            n_lost += <i64>(v < TINY) * <i64>(pre > 0) * <i64>(yb > 0)
        for j in range(o_lo, o_hi + 1):
            pre = po[j] + pe[j] + skip[j] * po[j - 1]
            yj = y[1 + j] * c
            v = pre * yj
            no[j] = v
            n_lost += <i64>(v < TINY) * <i64>(pre > 0) * <i64>(yj > 0)
        if n_lost != 0:
            lost[0] += 1
    # the next step reads one state above the band: it must be 0, not a stale value
    if e_hi + 1 <= L:
        ne[e_hi + 1] = 0.0
    if o_hi + 1 <= L:
        no[o_hi + 1] = 0.0
    return row_sum(ne, e_lo, e_hi) + row_sum(no, o_lo, o_hi)


cdef inline double row_sum(const double* v, i64 lo, i64 hi) noexcept nogil:
    if hi < lo:
        return 0.0
    return sum_block(v + lo, hi - lo + 1)


cdef inline double row_dot(const double* a, const double* b, i64 lo, i64 hi) noexcept nogil:
    """sum a[j] b[j] over [lo, hi] with four accumulators (vectorisable)."""
    cdef double a0 = 0, a1 = 0, a2 = 0, a3 = 0
    cdef i64 j = lo
    while j + 4 <= hi + 1:
        a0 += a[j] * b[j]
        a1 += a[j + 1] * b[j + 1]
        a2 += a[j + 2] * b[j + 2]
        a3 += a[j + 3] * b[j + 3]
        j += 4
    while j <= hi:
        a0 += a[j] * b[j]
        j += 1
    return (a0 + a1) + (a2 + a3)


cdef inline double* next_row(double* table, i64 t, Py_ssize_t row_len, const double* prev, double* ra,
                             double* rb) noexcept nogil:
    """Where a sweep writes row t: the table's row t (or NULL table: the one of the two rotating
    rows ``ra``/``rb`` that does not hold the previous row)."""
    if table != NULL:
        return table + t * row_len
    return rb if prev == ra else ra


cdef inline void fold_row_sum(double M, double* log_factor, double* prod) noexcept nogil:
    """A sweep's scale bookkeeping: the row sums are multiplied up in ``prod`` and its log moved
    into ``log_factor`` only when the product leaves [1e-150, 1e150] (a log per step would cost as
    much as a short lattice row); a row's log factor is ``log_factor + log(prod)``."""
    prod[0] *= M
    if not (1e-150 < prod[0] < 1e150):
        log_factor[0] += log_d(prod[0])
        prod[0] = 1.0


cdef inline void alpha_first(double* ne, double* no, const double* y, i64 L, i64 Tn) noexcept nogil:
    cdef i64 j
    for j in range(L + 2):
        ne[j] = 0.0
    for j in range(-1, L + 1):
        no[j] = 0.0
    ne[0] = y[0]
    if L > 0:
        no[0] = y[1]


cdef inline double join_at_mid(const double* arow, const double* brow, i64 L, i64 Tn, i64 mid, double la,
                               double lb) noexcept nogil:
    """log Z = la + lb + log sum_s alpha_mid(s) beta_mid(s), from alpha's and beta's row ``mid``
    (scaled, with log factors ``la``, ``lb``); NaN when the sum is not far above the underflow
    range (products of two small entries may underflow) or is infinite.

    Every sample long enough to be split between two threads (``SPLIT_MIN_T``) takes its log Z
    from here, whether or not it was split, so the loss does not depend on the thread count."""
    cdef i64 e_lo, e_hi, o_lo, o_hi
    cdef double norm
    band(mid, Tn, L, &e_lo, &e_hi, &o_lo, &o_hi)
    norm = row_dot(arow, brow, e_lo, e_hi) + row_dot(arow + L + 3, brow + L + 3, o_lo, o_hi)
    if not (norm > COLLAPSE) or isinf(norm):
        return NAN
    return la + lb + log_d(norm)


cdef double forward_linear(const floating* lp, Py_ssize_t ts, Py_ssize_t cs, i64 C, Sample s, i64 blank,
                           const double* skip, double* ra, double* rb, double* logscale,
                           double* table, Py_ssize_t row_len, EmCache* ec,
                           bint* ok, double* snap, i64* t_snap, double* ls_snap, i64 t_end,
                           double* out_row, i64 t_mid, double* la_mid) noexcept nogil:
    """log Z by the scaled recurrence; ``table`` (or NULL) receives every row; ``logscale[t]`` (or
    NULL) the log factor with alpha_t = row_t * exp(logscale[t]). ``ok`` is cleared on collapse.

    Forward only (``table`` NULL): the last row before the first underflow is copied to ``snap``
    (step ``t_snap[0]``, log factor ``ls_snap[0]``; -1 when none), so the beta check sweep can stop
    there instead of at t = 0: the rows up to it are exact.

    ``out_row`` (or NULL; forward only): the sweep stops after step ``t_end - 1``, copies that row
    to ``out_row`` and returns its log factor; ``ok`` is cleared when any state underflowed or the
    row collapsed (the caller then runs the whole sample sequentially).

    ``la_mid`` (or NULL): receives row ``t_mid``'s log factor (for :func:`join_at_mid`)."""
    cdef i64 t, e_lo, e_hi, o_lo, o_hi, j, L = s.L, Tn = s.Tn
    cdef double *pe
    cdef double *po
    cdef double *ne
    cdef double *no
    cdef double m, M, c = 1.0, acc = 0.0, total, prod = 1.0
    cdef double* y
    cdef i64 lost = 0
    cdef i64* lost_p = &lost if table == NULL else NULL
    cdef double acc_prev, prod_prev
    ok[0] = True
    if t_snap != NULL:
        t_snap[0] = -1
    ec.n = 0
    m = emissions(lp, ts, cs, s, ec, 0, True, &y)
    if table != NULL:
        ne = table
    else:
        ne = ra
    no = ne + L + 3
    alpha_first(ne, no, y, L, Tn)
    band(0, Tn, L, &e_lo, &e_hi, &o_lo, &o_hi)
    # zero the states outside the band at t = 0 (state 0/1 may be unable to reach the end)
    for j in range(0, e_lo):
        ne[j] = 0.0
    for j in range(0, o_lo):
        no[j] = 0.0
    M = ne[0] + no[0]
    acc = m
    if logscale != NULL:
        logscale[0] = acc
    for t in range(1, t_end):
        if polls(&s, t):
            ok[0] = False
            return NAN
        if M != M:
            ok[0] = True
            return NAN
        if not (M > COLLAPSE):
            ok[0] = False
            return INFINITY
        c = 1.0 / M
        acc_prev = acc     # the log factor of row t - 1, for the snapshot
        prod_prev = prod
        fold_row_sum(M, &acc, &prod)
        pe = ne
        po = no
        ne = next_row(table, t, row_len, pe, ra, rb)
        no = ne + L + 3
        m = emissions(lp, ts, cs, s, ec, t, True, &y)
        acc += m
        if logscale != NULL and (t & (CHECK_EVERY - 1)) == 0:
            logscale[t] = acc + log_d(prod)
        band(t, Tn, L, &e_lo, &e_hi, &o_lo, &o_hi)
        M = alpha_step(pe, po, ne, no, y, skip, c, L, e_lo, e_hi, o_lo, o_hi, lost_p)
        if t == t_mid and la_mid != NULL:
            la_mid[0] = acc + log_d(prod)
        if lost != 0 and out_row != NULL:
            ok[0] = False   # a split half that underflowed: the sample goes sequential, at once
            return NAN
        if lost != 0 and t_snap != NULL and t_snap[0] < 0:
            # first underflow at step t: row t - 1 is still exact
            for j in range(2 * L + 4):
                snap[j] = pe[j]
            t_snap[0] = t - 1
            ls_snap[0] = acc_prev + log_d(prod_prev)
    if M != M:
        return NAN
    if out_row != NULL:
        ok[0] = lost == 0 and M > COLLAPSE and not isinf(M)
        for j in range(2 * L + 4):
            out_row[j] = ne[j]
        return acc + log_d(prod)
    total = ne[L]
    if L > 0:
        total = total + no[L - 1]
    if not (total > 0.0):
        ok[0] = False
        return INFINITY
    if total < COLLAPSE or lost != 0:
        ok[0] = False
    return acc + log_d(prod) + log_d(total)


cdef inline void log_emissions(const floating* row, Py_ssize_t cs, Sample s, i64 blank, double* x) noexcept nogil:
    """The log-space sweeps' emissions of one step: x[0] blank, x[1 + j] label j, x[L + 1] = -inf."""
    cdef i64 j
    x[0] = <double>row[blank * cs]
    for j in range(s.L):
        x[1 + j] = <double>row[s.labels[j] * cs]
    x[s.L + 1] = -INFINITY


cdef double forward_log(const floating* lp, Py_ssize_t ts, Py_ssize_t cs, Sample s, i64 blank,
                        const double* skip, double* x, double* ra, double* rb, double* table,
                        Py_ssize_t row_len) noexcept nogil:
    """log Z by the plain log-space recurrence (the fallback): rows of log alpha, -inf outside.
    ``x``: L + 2 scratch values (one step's emissions). Branch-free loops (lse2, selects of
    operands), so they vectorise: the fallback costs a few times the linear sweep, not 10-30."""
    cdef i64 t, j, L = s.L, Tn = s.Tn
    cdef double *pe
    cdef double *po
    cdef double *ne
    cdef double *no
    cdef double xb
    ne = table if table != NULL else ra
    no = ne + L + 3
    for j in range(L + 2):
        ne[j] = -INFINITY
    for j in range(-1, L + 1):
        no[j] = -INFINITY
    ne[0] = <double>lp[blank * cs]
    if L > 0:
        no[0] = <double>lp[s.labels[0] * cs]
    for t in range(1, Tn):
        if polls(&s, t):
            return NAN
        pe = ne
        po = no
        ne = next_row(table, t, row_len, pe, ra, rb)
        no = ne + L + 3
        no[-1] = -INFINITY
        ne[L + 1] = -INFINITY
        no[L] = -INFINITY
        log_emissions(lp + t * ts, cs, s, blank, x)
        xb = x[0]
        for j in range(L + 1):
            ne[j] = lse2(pe[j], po[j - 1]) + xb
        for j in range(L):
            no[j] = lse2(lse2(po[j], pe[j]), pick_skip(skip[j], po[j - 1], -INFINITY)) + x[1 + j]
    if L > 0:
        return log_add(ne[L], no[L - 1])
    return ne[L]


cdef void fill_rows(floating* g, Py_ssize_t gts, i64 t0, i64 t1, i64 C, double value) noexcept nogil:
    cdef i64 t, k
    cdef floating v = <floating>value
    for t in range(t0, t1):
        for k in range(C):
            g[t * gts + k] = v


cdef inline void exp_row(const floating* lprow, Py_ssize_t cs, floating* grow, i64 C, double scale,
                         floating* erow) noexcept nogil:
    """grow[k] = scale * exp(lp[k]): the gradient of every class outside the target; ``erow`` (or
    NULL) receives exp(lp[k]). The last C % EXP_TAIL classes go through a padded block, so short
    rows (C = 28) are vectorised whole instead of ending in scalar exps."""
    cdef i64 k, k0 = C - C % EXP_TAIL
    cdef floating fs = <floating>scale
    cdef floating e
    cdef floating tail[EXP_TAIL]
    if erow != NULL:
        for k in range(k0):
            e = f_exp(lprow[k * cs])
            erow[k] = e
            grow[k] = e * fs
    elif cs == 1:
        for k in range(k0):
            grow[k] = f_exp(lprow[k]) * fs
    else:
        for k in range(k0):
            grow[k] = f_exp(lprow[k * cs]) * fs
    if k0 == C:
        return
    for k in range(EXP_TAIL):
        tail[k] = lprow[(k0 + k) * cs] if k0 + k < C else <floating>0.0
    for k in range(EXP_TAIL):
        tail[k] = f_exp(tail[k])
    for k in range(C - k0):
        grow[k0 + k] = tail[k] * fs
    if erow != NULL:
        for k in range(C - k0):
            erow[k0 + k] = tail[k]


cdef inline void write_grad_row(const floating* lprow, Py_ssize_t cs, floating* grow, i64 C, double scale,
                                const double* acc, const i64* slot_class, i64 U) noexcept nogil:
    """grow[k] = scale * (exp(lp[k]) - posterior[k]) (the log-space fallback's rows)."""
    cdef i64 k, u
    exp_row(lprow, cs, grow, C, scale, NULL)
    for u in range(U):
        k = slot_class[u]
        grow[k] = <floating>(scale * (exp_d(<double>lprow[k * cs]) - acc[u]))


cdef inline bint posterior_row(const double* ae, const double* be,
                               const double* bo, i64 L, i64 e_lo, i64 e_hi, i64 o_lo, i64 o_hi, const i64* slot,
                               const i64* slot_class, i64 U, double* acc, double logscale, double logz, double tol,
                               double scale, floating* grow, const double* ucls, double em,
                               bint check) noexcept nogil:
    """gamma_t = alpha_t beta_t / sum, gathered per distinct class, then the gradient of the
    target's classes, ``scale * (ucls[u] * em - gamma(u))`` (``ucls``: their emissions, shifted
    by m, ``em`` = exp(m); the other classes' ``scale * exp(lp)`` is already written); False when
    sum_s alpha_t(s) beta_t(s) (times its scales) is not Z."""
    cdef const double* ao = ae + L + 3
    cdef double norm, gb
    cdef i64 j, u
    for u in range(U):
        acc[u] = 0.0
    gb = row_dot(ae, be, e_lo, e_hi)
    acc[0] = gb
    for j in range(o_lo, o_hi + 1):
        acc[slot[j]] += ao[j] * bo[j]
    # (the same sum as over acc, with independent accumulators instead of one serial chain)
    norm = gb + row_dot(ao, bo, o_lo, o_hi)
    if not (norm > 0.0) or isinf(norm):
        return False
    if check and not (f_abs_d(logscale + log_d(norm) - logz) <= tol):
        return False
    norm = 1.0 / norm
    for u in range(U):
        grow[slot_class[u]] = <floating>(scale * (ucls[u] * em - acc[u] * norm))
    return True


cdef inline bint beta_step(const double* be, const double* bo, double* ne, double* no, const double* y,
                           const double* skip, double c, i64 e_lo, i64 e_hi, i64 o_lo, i64 o_hi,
                           bint count_lost) noexcept nogil:
    """One beta step: row t-1 (``ne``/``no``) from row t and step t's emissions ``y``, rescaled by
    ``c``. With ``count_lost`` (a forward-only half, which has no alpha to check against): True
    when a state went below TINY although one of its terms has non-zero factors (its value was
    lost to underflow). The pass counts states below TINY (vectorised); only a row that has some
    (rare but for exact zeros) is checked term by term (``beta_lost``)."""
    cdef i64 j, n_small = 0
    cdef double yb = y[0] * c, v
    if not count_lost:
        # (the gradient's sweep: its alpha-beta checks catch lost mass; the branch stays out of the loops)
        for j in range(e_lo, e_hi + 1):
            ne[j] = yb * be[j] + (y[1 + j] * c) * bo[j]
        for j in range(o_lo, o_hi + 1):
            no[j] = (y[1 + j] * c) * bo[j] + yb * be[j + 1] + skip[j + 1] * (y[2 + j] * c) * bo[j + 1]
        return False
    for j in range(e_lo, e_hi + 1):
        v = yb * be[j] + (y[1 + j] * c) * bo[j]
        ne[j] = v
        n_small += <i64>(v < TINY)
    for j in range(o_lo, o_hi + 1):
        v = (y[1 + j] * c) * bo[j] + yb * be[j + 1] + skip[j + 1] * (y[2 + j] * c) * bo[j + 1]
        no[j] = v
        n_small += <i64>(v < TINY)
    return n_small != 0 and beta_lost(be, bo, ne, no, y, skip, e_lo, e_hi, o_lo, o_hi)


cdef bint beta_lost(const double* be, const double* bo, const double* ne, const double* no, const double* y,
                    const double* skip, i64 e_lo, i64 e_hi, i64 o_lo, i64 o_hi) noexcept nogil:
    """Whether a state of the new beta row went below TINY although one of its terms has
    non-zero factors. An integer count, so the loops vectorise."""
    cdef i64 j, n_lost = 0
    for j in range(e_lo, e_hi + 1):
        n_lost += <i64>(ne[j] < TINY) * (<i64>(be[j] > 0) * <i64>(y[0] > 0) + <i64>(bo[j] > 0) * <i64>(y[1 + j] > 0))
    for j in range(o_lo, o_hi + 1):
        n_lost += <i64>(no[j] < TINY) * (<i64>(bo[j] > 0) * <i64>(y[1 + j] > 0) + <i64>(be[j + 1] > 0) * <i64>(y[0] > 0)
                                         + <i64>(skip[j + 1] != 0) * <i64>(bo[j + 1] > 0) * <i64>(y[2 + j] > 0))
    return n_lost != 0


cdef struct BetaHalf:
    # a beta sweep's part in a gradient split between two threads (see ctc_loss)
    const double* start_row   # or NULL: start at Tn - 1 with the end states; else at t_start from this row
    i64 t_start
    double start_log          # start_row's log factor
    double* store             # or NULL: rows t > t_snap are stored here (row_len apart) ...
    double* store_log         # ... with their log factors (rows t % CHECK_EVERY == 0 and Tn - 1)


cdef inline BetaHalf make_beta_half(const double* start_row, i64 t_start, double start_log, double* store,
                                    double* store_log) noexcept nogil:
    # returned by value: the prange body assigns it whole, so Cython makes it thread-private (a
    # struct only assigned member by member there stays shared between threads: a data race)
    cdef BetaHalf h
    h.start_row = start_row
    h.t_start = t_start
    h.start_log = start_log
    h.store = store
    h.store_log = store_log
    return h


cdef bint backward_linear(const floating* lp, Py_ssize_t ts, Py_ssize_t cs, Sample s, i64 blank, i64 C,
                          const double* skip, const i64* slot, const i64* slot_class, i64 U,
                          EmCache* ec, double* ra, double* rb, double* acc, const double* logscale,
                          const double* table, Py_ssize_t row_len, double logz, double scale,
                          floating* g, Py_ssize_t gts, const double* snap, i64 t_snap,
                          double ls_snap, double* out_row, double* out_ls, floating* erow,
                          const BetaHalf* half, i64 t_mid, double la_mid, double* logz_mid) noexcept nogil:
    """Beta sweep with two rows; writes the gradient rows t < Tn (``erow``: C scratch values for
    sweeps with C > 0, which write whole rows). False when a row's alpha-beta sum disagrees with
    log Z (lost mass): the caller recomputes in log space.

    With ``table`` NULL (forward-only calls whose alpha sweep saw an underflow) it only checks
    ``sum_s alpha_0(s) beta_0(s)`` against log Z, with O(S) state.

    ``out_row`` (or NULL; the beta half of a sample split between two threads): the sweep stops
    at t = ``t_snap``, copies beta_t to ``out_row`` with its log factor in ``out_ls`` and returns
    True; False when a row collapsed or (forward only) a state underflowed (below TINY from
    non-zero successors and emission).

    ``half`` (or NULL): a gradient split's beta half: first (``half.store``) the rows above
    ``t_snap`` are stored for the alpha half, then (``half.start_row``) the sweep resumes from
    row ``t_snap`` down to 0 with the gradient, as a whole sample's would.

    ``logz_mid`` (or NULL; gradient sweeps): receives :func:`join_at_mid` at row ``t_mid``, with
    alpha's log factor ``la_mid`` there (the table holds alpha's row)."""
    cdef i64 t, j, u, L = s.L, Tn = s.Tn, e_lo, e_hi, o_lo, o_hi
    cdef double *be
    cdef double *bo
    cdef double *ne
    cdef double *no
    cdef const double *ae
    cdef const double *ao
    cdef double blog = 0.0, prod = 1.0, m, M, c, norm, ab, gb, tol, w
    cdef bint check
    cdef double* y
    cdef const double* u_t
    ec.n = 0
    tol = 1e-10 + 1e-13 * (logz if logz > 0 else -logz)
    be = ra
    bo = be + L + 3
    t = Tn - 1
    if half != NULL and half.start_row != NULL:
        for j in range(-1, 2 * L + 5):
            be[j] = half.start_row[j]
        t = half.t_start
        blog = half.start_log
    else:
        for j in range(L + 2):
            be[j] = 0.0
        for j in range(-1, L + 1):
            bo[j] = 0.0
        be[L] = 1.0
        if L > 0:
            bo[L - 1] = 1.0
    # the state above the last label is read (times 0) by every step: keep it 0 in both rows
    (rb + L + 3)[L] = 0.0
    M = 1.0
    if half != NULL and half.start_row != NULL:
        # the start row's sum scales the next row, as in a whole sweep (same rows, bit for bit)
        band(t, Tn, L, &e_lo, &e_hi, &o_lo, &o_hi)
        M = row_sum(be, e_lo, e_hi) + row_sum(bo, o_lo, o_hi)
    while True:
        if polls(&s, t):
            return False
        band(t, Tn, L, &e_lo, &e_hi, &o_lo, &o_hi)
        if t == t_mid and logz_mid != NULL:
            logz_mid[0] = join_at_mid(table + t * row_len, be, L, Tn, t, la_mid, blog + log_d(prod))
        if half != NULL and half.store != NULL and t > t_snap:
            for j in range(-1, 2 * L + 5):
                (half.store + t * row_len)[j] = be[j]
            if (t & (CHECK_EVERY - 1)) == 0 or t == Tn - 1:
                half.store_log[t] = blog + log_d(prod)
        if out_row != NULL:
            if t == t_snap:
                for j in range(-1, 2 * L + 5):
                    out_row[j] = be[j]
                out_ls[0] = blog + log_d(prod)
                return True
        elif table == NULL:
            if t == t_snap:
                # the exact alpha row saved before the forward sweep's first underflow
                norm = row_dot(snap, be, e_lo, e_hi) + row_dot(snap + L + 3, bo, o_lo, o_hi)
                return norm > 0.0 and not isinf(norm) and f_abs_d(ls_snap + blog + log_d(prod) + log_d(norm) - logz) <= tol
            if t == 0:
                m = emissions(lp, ts, cs, s, ec, 0, False, &y)
                norm = y[0] * be[0]
                if L > 0:
                    norm = norm + y[1] * bo[0]
                return norm > 0.0 and not isinf(norm) and f_abs_d(m + blog + log_d(prod) + log_d(norm) - logz) <= tol
        else:
            # the gradient row t: every class's scale * exp(lp) (by the sweep when C > 0, else
            # already written); when the step passed the plain_exp_unsafe test, those exps are the
            # target's emissions, else the emission cache gives them shifted
            if t >= 2:
                # the alpha rows come back from L3 (written T steps ago): ask two rows ahead
                prefetch_bytes(<const char*>(table + (t - 2) * row_len), (2 * L + 6) * sizeof(double))
            if C > 0 and ec.plain[t]:
                prefetch_ahead(lp, ts, cs, s, t, False)
                row_emissions(lp + t * ts, cs, C, s, scale, g + t * gts, erow, s.ucls, s.yrow)
                y = s.yrow
                m = 0.0
                u_t = s.ucls
            else:
                if C > 0:
                    exp_row(lp + t * ts, cs, g + t * gts, C, scale, NULL)
                m = emissions(lp, ts, cs, s, ec, t, False, &y)
                for u in range(U):
                    s.ucls[u] = y[s.cls_col[u]]
                u_t = s.ucls
            # sum_s alpha_t beta_t = Z is checked every CHECK_EVERY steps and at t = 0 (mass
            # lost in alpha shows at every later step, mass lost in beta at every earlier one)
            check = (t & (CHECK_EVERY - 1)) == 0
            if not posterior_row(table + t * row_len, be, bo, L, e_lo, e_hi, o_lo, o_hi, slot,
                                 slot_class, U, acc, (logscale[t] + blog + log_d(prod)) if check else 0.0,
                                 logz, tol, scale, g + t * gts, u_t, exp_d(m), check):
                return False
        if t == 0:
            break
        # beta_{t-1} from beta_t and the emissions at t (the gradient sweep has them already),
        # rescaled by the previous row sum
        if table == NULL:
            m = emissions(lp, ts, cs, s, ec, t, False, &y)
        c = 1.0 / M
        blog += m
        fold_row_sum(M, &blog, &prod)
        ne = next_row(NULL, t, row_len, be, ra, rb)
        no = ne + L + 3
        band(t - 1, Tn, L, &e_lo, &e_hi, &o_lo, &o_hi)
        if beta_step(be, bo, ne, no, y, skip, c, e_lo, e_hi, o_lo, o_hi, out_row != NULL and half == NULL):
            return False
        M = row_sum(ne, e_lo, e_hi) + row_sum(no, o_lo, o_hi)
        # the next step reads up to two states below the band: they must be 0
        if e_lo >= 1:
            ne[e_lo - 1] = 0.0
        if o_lo >= 1:
            no[o_lo - 1] = 0.0
        if o_lo >= 2:
            no[o_lo - 2] = 0.0
        if not (M > COLLAPSE):
            return False
        be = ne
        bo = no
        t -= 1
    return True


cdef bint alpha_half_gradient(const floating* lp, Py_ssize_t ts, Py_ssize_t cs, Sample s, const double* skip,
                              const i64* slot, const i64* slot_class, i64 U, EmCache* ec, double* ra, double* rb,
                              double* acc, const double* arow, double lf, i64 mid, const double* btable,
                              const double* blog, Py_ssize_t row_len, double logz, double scale, floating* g,
                              Py_ssize_t gts) noexcept nogil:
    """The alpha half of a gradient split between two threads, second part: from alpha row
    ``mid`` (``arow``, log factor ``lf``) the sweep goes on over t = mid+1..Tn-1 with two rows,
    each row's posterior taken against the beta row the other half stored (``btable``, log
    factors ``blog``); writes the target classes of those gradient rows (the others are already
    written). False when a row collapsed or a checked row's alpha-beta sum is not Z (checked
    every CHECK_EVERY steps and at Tn - 1: mass this sweep loses shows there, mass the beta half
    lost above ``mid`` shows at every row above the loss)."""
    cdef i64 t, u, L = s.L, Tn = s.Tn, e_lo, e_hi, o_lo, o_hi
    cdef const double* pe = arow
    cdef const double* po = arow + L + 3
    cdef double* ne
    cdef double* no
    cdef double* y
    cdef double m, M, c, acc_log = lf, prod = 1.0
    cdef double tol = 1e-10 + 1e-13 * (logz if logz > 0 else -logz)
    cdef bint check
    band(mid, Tn, L, &e_lo, &e_hi, &o_lo, &o_hi)
    M = row_sum(pe, e_lo, e_hi) + row_sum(po, o_lo, o_hi)
    ec.n = 0
    for t in range(mid + 1, Tn):
        if polls(&s, t):
            return False
        c = 1.0 / M
        fold_row_sum(M, &acc_log, &prod)
        m = emissions(lp, ts, cs, s, ec, t, True, &y)
        acc_log += m
        ne = next_row(NULL, t, row_len, pe, ra, rb)
        no = ne + L + 3
        band(t, Tn, L, &e_lo, &e_hi, &o_lo, &o_hi)
        M = alpha_step(pe, po, ne, no, y, skip, c, L, e_lo, e_hi, o_lo, o_hi, NULL)
        if not (M > COLLAPSE) or isinf(M):
            return False
        for u in range(U):
            s.ucls[u] = y[s.cls_col[u]]
        check = (t & (CHECK_EVERY - 1)) == 0 or t == Tn - 1
        if not posterior_row(ne, btable + t * row_len, btable + t * row_len + L + 3, L, e_lo, e_hi, o_lo, o_hi,
                             slot, slot_class, U, acc,
                             (acc_log + log_d(prod) + blog[t]) if check else 0.0, logz, tol, scale, g + t * gts,
                             s.ucls, exp_d(m), check):
            return False
        pe = ne
        po = no
    # the whole sweep's end check (forward_linear): a split sample fails wherever a whole one would
    return pe[L] + (po[L - 1] if L > 0 else 0.0) >= COLLAPSE


cdef inline double f_abs_d(double v) noexcept nogil:
    return v if v >= 0 else -v


cdef void backward_log(const floating* lp, Py_ssize_t ts, Py_ssize_t cs, Sample s, i64 blank, i64 C,
                       const double* skip, const i64* slot, const i64* slot_class, i64 U,
                       double* ra, double* rb, double* acc, const double* table, Py_ssize_t row_len,
                       double logz, double scale, floating* g, Py_ssize_t gts, double* x,
                       double* post) noexcept nogil:
    """The log-space beta sweep of the fallback (table holds log alpha). ``x``: L + 2 scratch
    values, ``post``: 2L + 1 (one row's posteriors). Branch-free loops, as forward_log."""
    cdef i64 t, j, u, L = s.L, Tn = s.Tn
    cdef double *be
    cdef double *bo
    cdef double *ne
    cdef double *no
    cdef const double *ae
    cdef const double *ao
    cdef double xb
    be = ra
    bo = be + L + 3
    for j in range(L + 2):
        be[j] = -INFINITY
    for j in range(-1, L + 1):
        bo[j] = -INFINITY
    be[L] = 0.0
    if L > 0:
        bo[L - 1] = 0.0
    t = Tn - 1
    while True:
        if polls(&s, t):
            return
        ae = table + t * row_len
        ao = ae + L + 3
        # gamma_t per state (exp(-inf) = 0: unreachable states add nothing), summed per class
        for j in range(L + 1):
            post[j] = exp_d(ae[j] + be[j] - logz)
        for j in range(L):
            post[L + 1 + j] = exp_d(ao[j] + bo[j] - logz)
        for u in range(U):
            acc[u] = 0.0
        for j in range(L + 1):
            acc[0] += post[j]
        for j in range(L):
            acc[slot[j]] += post[L + 1 + j]
        write_grad_row(lp + t * ts, cs, g + t * gts, C, scale, acc, slot_class, U)
        if t == 0:
            break
        ne = next_row(NULL, t, row_len, be, ra, rb)
        no = ne + L + 3
        log_emissions(lp + t * ts, cs, s, blank, x)
        xb = x[0]
        # (bo[L] = -inf and x[L + 1] = -inf: the last blank has no label after it; skip[L] = 0)
        for j in range(L + 1):
            ne[j] = lse2(be[j] + xb, bo[j] + x[1 + j])
        for j in range(L):
            no[j] = lse2(lse2(bo[j] + x[1 + j], be[j + 1] + xb),
                         pick_skip(skip[j + 1], bo[j + 1], -INFINITY) + pick_skip(skip[j + 1], x[2 + j], 0.0))
        no[L] = -INFINITY
        be = ne
        bo = no
        t -= 1


cdef inline size_t table_len(i64 n, i64 Tmax, Py_ssize_t row_len) noexcept nogil:
    """Doubles in n alpha tables of Tmax rows (+1: row 0's od[-1]); beyond any memory (or
    overflowing), a size that fl_guard_alloc refuses."""
    if <double>n * (<double>Tmax * row_len + 1) > 1e18:
        return <size_t>-1
    return n * (Tmax * row_len + 1)


cdef inline i64 lower_bound(const i64* a, i64 lo, i64 hi, i64 v) noexcept nogil:
    """The first index in [lo, hi) of the sorted ``a`` whose value is not below v."""
    cdef i64 mid
    while lo < hi:
        mid = (lo + hi) // 2
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef i64 prepare(const i64* labels, i64 L, i64 blank, double* skip, i64* slot, i64* slot_class,
                 i64* cls_col) noexcept nogil:
    """skip[j] (label j may follow label j-2's state directly), and the distinct classes of the
    sample: slot_class[0] = blank, then the target's other classes in ascending order (the
    gradient rows are then written front to back); slot[j] = the slot of label j; cls_col[u] = the
    emission row's column of class u (0 for blank, 1 + its first position). Returns how many
    distinct classes."""
    cdef i64 j, u, n = 1, k
    slot_class[0] = blank
    for j in range(L + 2):
        skip[j] = 0.0
    for j in range(L):
        if j > 0 and labels[j] != labels[j - 1]:
            skip[j] = 1.0
        if labels[j] == blank:
            continue
        k = lower_bound(slot_class, 1, n, labels[j])
        if k < n and slot_class[k] == labels[j]:
            continue
        for u in range(n, k, -1):
            slot_class[u] = slot_class[u - 1]
        slot_class[k] = labels[j]
        n += 1
    for j in range(L - 1, -1, -1):
        slot[j] = 0 if labels[j] == blank else lower_bound(slot_class, 1, n, labels[j])
        cls_col[slot[j]] = 1 + j
    cls_col[0] = 0
    return n


def ctc_loss(const floating[:, :, :] log_probs, const i64[::1] targets, const i64[::1] offsets,
             const i64[::1] target_lengths, const i64[::1] input_lengths, const i64[::1] order,
             i64 blank, double[::1] nll, floating[:, :, ::1] grad, const double[::1] grad_scale,
             bint zero_infinity, int n_threads):
    """Per-sample negative log-likelihoods into ``nll``; with ``grad`` (T, N, C), the gradient too.

    ``targets[offsets[n]:offsets[n] + target_lengths[n]]`` is sample n's target. ``order``: the
    samples, longest first (work queue order). ``grad_scale[n]``: the factor of sample n's
    gradient (reduction and grad_output). Every index has been validated by the caller.
    """
    if log_probs.shape[1] == 0:
        return
    ctc_run(&log_probs[0, 0, 0], log_probs.shape[0], log_probs.shape[1], log_probs.shape[2],
            log_probs.strides[0] // sizeof(floating), log_probs.strides[1] // sizeof(floating),
            log_probs.strides[2] // sizeof(floating), &targets[0] if targets.shape[0] > 0 else NULL, &offsets[0],
            &target_lengths[0], &input_lengths[0], &order[0], blank, &nll[0],
            NULL if grad is None else &grad[0, 0, 0], &grad_scale[0] if grad_scale.shape[0] > 0 else NULL,
            zero_infinity, n_threads)


cdef int ctc_run(const floating* lp0, i64 T, i64 N, i64 C, Py_ssize_t ts, Py_ssize_t ns, Py_ssize_t cs,
                 const i64* tptr, const i64* offsets, const i64* target_lengths, const i64* input_lengths,
                 const i64* order, i64 blank, double* nll, floating* g0, const double* grad_scale,
                 bint zero_infinity, int n_threads) except -1:
    """:func:`ctc_loss` on raw pointers: ``lp0`` the (T, N, C) log-probs with strides ts, ns, cs
    (elements), ``tptr`` the flat targets (NULL if empty), ``g0`` the C-contiguous gradient (NULL:
    forward only; then ``grad_scale`` may be NULL)."""
    cdef Py_ssize_t gts = N * C
    cdef bint want_grad = g0 != NULL
    cdef bint split, halves
    cdef i64 half, mid, e_lo, e_hi, o_lo, o_hi, ntask
    cdef double* hrow = NULL
    cdef double* hls = NULL
    cdef i64* hok = NULL
    cdef i64* arrived = NULL
    cdef double* ar
    cdef double* br
    cdef double* mar
    cdef double* mbr
    cdef double la, lb, la_mid, logz_mid
    cdef bint mid_form
    cdef i64 Cw, r
    cdef i64 Lmax = 0, Tmax = 0, i, n, L, Tn, U
    cdef Py_ssize_t row_len, buf_len
    cdef double *work
    cdef double *y
    cdef double *ra
    cdef double *rb
    cdef double *ucls
    cdef double *yrow
    cdef double *skip
    cdef double *acc
    cdef double *logscale
    cdef double *table
    cdef double *tab
    cdef double *lsc
    cdef double *stab = NULL
    cdef double *slog = NULL
    cdef int team
    cdef bint split_here
    cdef BetaHalf bh
    cdef floating *erow
    cdef double *snap
    cdef i64 t_snap
    cdef double ls_snap
    cdef i64 *slot
    cdef i64 *slot_class
    cdef i64 *cls_col
    cdef double logz, value
    cdef bint ok
    cdef Sample s
    cdef EmCache ec
    cdef FlGuard guard
    cdef long long next_task = 0, left = 0
    cdef long long poll_rows = fl_poll_mask(C)
    fl_guard_init(&guard)
    for n in range(N):
        if target_lengths[n] > Lmax:
            Lmax = target_lengths[n]
        if input_lengths[n] > Tmax:
            Tmax = input_lengths[n]
    row_len = 2 * Lmax + 6
    # per thread: y, skip, acc, ra, rb, ucls, the emission cache, snap, yrow, mar, mbr (see below)
    buf_len = 5 * (Lmax + 3) + 5 * row_len + BLOCK_T * (Lmax + 3) + 5
    # With fewer samples than threads, the gradient's exp(log_probs) rows (the bulk of its work
    # when C is large) are written first by every thread, row by row; the per-sample sweeps then
    # only overwrite the classes of each target (``Cw = 0`` skips their full-row pass).
    split = want_grad and N < n_threads
    Cw = 0 if split else C
    if split:
        for r in prange(T * N, nogil=True, schedule='static', num_threads=n_threads):
            if fl_guard_tick(&guard, r, poll_rows):
                continue
            n = r % N
            if r // N < input_lengths[n]:
                exp_row(lp0 + (r // N) * ts + n * ns, cs, g0 + r * C, C, grad_scale[n], NULL)
            else:
                fill_rows(g0 + r * C, 0, 0, 1, C, 0.0)
    # Fewer samples than threads: each sample long enough is two tasks, alpha over t <= mid and
    # beta over t >= mid, run concurrently (the team has at least two threads; pairs are handed
    # out in order, so a task waiting for its partner never waits on a task nobody will run).
    # Forward only: log Z = log sum_s alpha_mid(s) beta_mid(s) (each half's row with its log
    # factor), combined by the task finishing second; a half that sees an underflow, a collapse
    # or a NaN stops, and the first to fail runs the whole sample sequentially. Gradient: the
    # sample's one table holds alpha rows 0..mid and beta rows mid+1..Tn-1; after both halves
    # have stored theirs, the alpha half goes on over t > mid and the beta half over t <= mid,
    # each writing the posterior rows against the other's stored rows; a failed check (or any
    # failure) makes the task finishing second run the sample sequentially (same table).
    halves = N < n_threads
    ntask = 2 * N if halves else N
    if halves:
        hrow = <double*> fl_guard_alloc(&guard, 2 * N * (row_len + 1), sizeof(double))
        hls = <double*> fl_guard_alloc(&guard, 2 * N, sizeof(double))
        hok = <i64*> fl_guard_alloc(&guard, 4 * N, sizeof(i64))
        arrived = <i64*> fl_guard_alloc(&guard, 2 * N, sizeof(i64))
        if arrived != NULL:
            for n in range(2 * N):
                arrived[n] = 0
        if want_grad:
            stab = <double*> fl_guard_alloc(&guard, table_len(N, Tmax, row_len), sizeof(double))
            slog = <double*> fl_guard_alloc(&guard, 2 * N * (Tmax + 1), sizeof(double))
    with nogil, parallel(num_threads=n_threads):
        work = <double*> fl_guard_alloc(&guard, buf_len, sizeof(double))
        slot = <i64*> fl_guard_alloc(&guard, 3 * (Lmax + 2), sizeof(i64))
        team = omp_get_num_threads()
        table = NULL
        logscale = NULL
        erow = NULL
        if want_grad:
            erow = <floating*> fl_guard_alloc(&guard, C + 1, sizeof(floating))
            if not halves:
                table = <double*> fl_guard_alloc(&guard, table_len(1, Tmax, row_len), sizeof(double))
                logscale = <double*> fl_guard_alloc(&guard, Tmax + 1, sizeof(double))
        y = work
        skip = y + (Lmax + 3)
        acc = skip + (Lmax + 3)
        ra = acc + (Lmax + 3) + 1          # +1: od rows keep od[-1] before them
        rb = ra + row_len
        ucls = rb + row_len + 1
        ec = make_cache(ucls + (Lmax + 3), Lmax)
        if want_grad:
            ec.plain = <unsigned char*> fl_guard_alloc(&guard, Tmax + 1, 1)
        snap = ucls + (Lmax + 3) + BLOCK_T * (Lmax + 3)
        yrow = snap + row_len
        mar = yrow + (Lmax + 3) + 1        # a forward-only sample's alpha and beta rows at mid
        mbr = mar + row_len + 1            # (+1: backward_linear copies from od[-1])
        slot_class = slot + (Lmax + 2)
        cls_col = slot_class + (Lmax + 2)
        # the tasks, in order, to whichever thread is free (a dynamic schedule, by hand: see fl_ctc_leave)
        while True:
            i = fl_ctc_take(&next_task)
            if i >= ntask:
                break
            if fl_guard_tick(&guard, i, 0):
                continue    # out of memory (some thread's buffers are NULL) or interrupted: the call raises
            n = order[i // 2] if halves else order[i]
            half = i % 2 if halves else 0
            # Cython makes a variable thread-private only when the loop body assigns it; these
            # are otherwise written only through pointers, so assign them here
            t_snap = -1
            ls_snap = 0.0
            la_mid = NAN
            logz_mid = NAN
            lb = 0.0
            L = target_lengths[n]
            Tn = input_lengths[n]
            s = make_sample(tptr + offsets[n], L, Tn, n, slot, slot_class, cls_col, ucls, yrow, &guard)
            s.C = C
            # a sample this long takes log Z from its two halves joined at mid (join_at_mid), on
            # one thread or split between two: the loss does not depend on the thread count
            mid_form = Tn >= SPLIT_MIN_T and required_length(s.labels, L) <= Tn
            split_here = halves and team >= 2 and mid_form
            if halves and half == 1 and not split_here:
                continue    # not split: task 0 does the whole sample
            # the sample's alpha table and log factors: the thread's, or with halves the sample's
            tab = (stab + n * (Tmax * row_len + 1)) if halves and want_grad else table
            lsc = (slog + 2 * n * (Tmax + 1)) if halves and want_grad else logscale
            if want_grad and not split:
                fill_rows(g0 + n * C, gts, Tn, T, C, 0.0)
            if Tn == 0:
                value = 0.0 if L == 0 else INFINITY
                nll[n] = -value if L == 0 else value
                continue
            if required_length(s.labels, L) > Tn:
                nll[n] = INFINITY
                if want_grad:
                    fill_rows(g0 + n * C, gts, 0, Tn, C, 0.0 if zero_infinity else NAN)
                continue
            U = prepare(s.labels, L, blank, skip, slot, slot_class, cls_col)
            s.U = U
            mid = (Tn - 1) // 2
            if split_here:
                ar = hrow + 2 * n * (row_len + 1) + 1
                br = ar + row_len + 1
                bh = make_beta_half(NULL, 0, 0.0, (tab + 1) if want_grad else NULL,
                                    (lsc + Tmax + 1) if want_grad else NULL)
                if half == 0:
                    hls[2 * n] = forward_linear(lp0 + n * ns, ts, cs, C, s, blank, skip, ra + 1, rb + 1, lsc,
                                                (tab + 1) if want_grad else NULL, row_len, &ec, &ok, NULL, NULL,
                                                NULL, mid + 1, ar, -1, NULL)
                    hok[2 * n] = ok and hls[2 * n] == hls[2 * n]
                else:
                    hok[2 * n + 1] = backward_linear(lp0 + n * ns, ts, cs, s, blank, 0, skip, slot, slot_class, U,
                                                     &ec, ra + 1, rb + 1, acc, NULL, NULL, row_len, 0.0, 0.0,
                                                     NULL, 0, NULL, mid, 0.0, br, &hls[2 * n + 1], NULL,
                                                     &bh if want_grad else NULL, -1, 0.0, NULL)
                if want_grad:
                    fl_ctc_arrive(&arrived[2 * n])
                    fl_ctc_wait_for(&arrived[2 * n], 2, &guard)
                    ok = hok[2 * n] and hok[2 * n + 1]
                elif not hok[2 * n + half]:
                    # this half failed: the first half to fail runs the sample sequentially now
                    # (the other half, when it succeeds, arrives alone and leaves)
                    if fl_ctc_arrive(&arrived[2 * n + 1]) != 1:
                        continue
                    ok = False
                elif fl_ctc_arrive(&arrived[2 * n]) == 1:
                    continue    # the other half combines (or has failed and runs the sample)
                else:
                    ok = True   # both halves succeeded
                if ok:
                    logz = join_at_mid(ar, br, L, Tn, mid, hls[2 * n], hls[2 * n + 1])
                    ok = logz == logz
                if want_grad:
                    if ok and half == 0:
                        ok = alpha_half_gradient(lp0 + n * ns, ts, cs, s, skip, slot, slot_class, U, &ec, ra + 1,
                                                 rb + 1, acc, tab + 1 + mid * row_len, hls[2 * n], mid, tab + 1,
                                                 lsc + Tmax + 1, row_len, logz, grad_scale[n], g0 + n * C, gts)
                    elif ok:
                        bh = make_beta_half(br, mid, hls[2 * n + 1], NULL, NULL)
                        ok = backward_linear(lp0 + n * ns, ts, cs, s, blank, 0, skip, slot, slot_class, U, &ec,
                                             ra + 1, rb + 1, acc, lsc, tab + 1, row_len, logz,
                                             grad_scale[n], g0 + n * C, gts, NULL, -1, 0.0, NULL, NULL, erow, &bh,
                                             -1, 0.0, NULL)
                    hok[2 * N + 2 * n + half] = ok
                    if fl_ctc_arrive(&arrived[2 * n + 1]) == 1:
                        continue    # the other half finishes the sample
                    ok = hok[2 * N + 2 * n] and hok[2 * N + 2 * n + 1]
                if ok:
                    nll[n] = -logz
                    continue
            elif mid_form and not want_grad:
                # forward only, not split: the same two halves one after the other (same checks,
                # same log Z), then as a split sample that failed
                la = forward_linear(lp0 + n * ns, ts, cs, C, s, blank, skip, ra + 1, rb + 1, NULL, NULL, row_len,
                                    &ec, &ok, NULL, NULL, NULL, mid + 1, mar, -1, NULL)
                if ok and la == la and backward_linear(lp0 + n * ns, ts, cs, s, blank, 0, skip, slot, slot_class, U,
                                                       &ec, ra + 1, rb + 1, acc, NULL, NULL, row_len, 0.0, 0.0,
                                                       NULL, 0, NULL, mid, 0.0, mbr, &lb, NULL, NULL, -1, 0.0, NULL):
                    logz = join_at_mid(mar, mbr, L, Tn, mid, la, lb)
                    if logz == logz:
                        nll[n] = -logz
                        continue
            logz = forward_linear(lp0 + n * ns, ts, cs, C, s, blank, skip, ra + 1, rb + 1, lsc,
                                  (tab + 1) if want_grad else NULL, row_len, &ec, &ok,
                                  NULL if want_grad else snap, &t_snap, &ls_snap, Tn, NULL,
                                  mid if want_grad and mid_form else -1, &la_mid)
            if want_grad and ok and logz == logz or not want_grad and not ok and logz == logz and logz < INFINITY:
                ok = backward_linear(lp0 + n * ns, ts, cs, s, blank, Cw, skip, slot, slot_class, U, &ec,
                                     ra + 1, rb + 1, acc, lsc, (tab + 1) if want_grad else NULL, row_len,
                                     logz, grad_scale[n] if want_grad else 0.0, g0 + n * C, gts,
                                     snap, t_snap, ls_snap, NULL, NULL, erow, NULL,
                                     mid if want_grad and mid_form else -1, la_mid, &logz_mid)
                if want_grad and ok and logz_mid == logz_mid:
                    logz = logz_mid   # (as a split sample's)
            if not ok:
                logz = forward_log(lp0 + n * ns, ts, cs, s, blank, skip, y, ra + 1, rb + 1,
                                   (tab + 1) if want_grad else NULL, row_len)
                if want_grad and logz > -INFINITY and logz == logz:
                    backward_log(lp0 + n * ns, ts, cs, s, blank, Cw, skip, slot, slot_class, U, ra + 1, rb + 1,
                                 acc, tab + 1, row_len, logz, grad_scale[n], g0 + n * C, gts, y, snap)
            nll[n] = -logz
            if want_grad and not (logz > -INFINITY and logz < INFINITY):
                # inf (no alignment) or nan: torch's gradient is nan; zero_infinity zeroes inf samples
                fill_rows(g0 + n * C, gts, 0, Tn, C, 0.0 if (zero_infinity and logz == -INFINITY) else NAN)
        fl_ctc_leave(&left, team, &guard)
        free(work)
        free(slot)
        free(table)
        free(logscale)
        free(erow)
        free(ec.plain)
    free(hrow)
    free(hls)
    free(hok)
    free(arrived)
    free(stab)
    free(slog)
    return guard_raise(&guard)


# --- The loss's rules, stated once -----------------------------------------------------------------
# The sample order, the team, each sample's gradient scale, zero_infinity and the 'mean'/'sum'
# reduction are written here and nowhere else: ``run_reduced`` runs the kernel by them for both
# entries of host arrays (``host_loss``: the loss layer's general path after its checks;
# ``common_case``: plain arrays, checked here), and the device path (GPU kernels, or their
# emulation) takes the same rules through ``grad_scales`` and ``reduce_losses``.

# ``mode``: the reduction, as common_case.pxd's mean_or_sum numbers it, and 'none'
cdef enum:
    REDUCE_SUM = 0
    REDUCE_MEAN = 1
    REDUCE_NONE = 2
    # sample_order's runs sorted by insertion before they are merged
    ORDER_RUN = 16


cdef inline bint before(const i64* cells, i64 a, i64 b) noexcept nogil:
    """Sample a is taken before sample b: the larger lattice first, ties in sample order."""
    return cells[a] > cells[b] or (cells[a] == cells[b] and a < b)


cdef i64 sample_order(const i64* il, const i64* tl, i64 N, i64* order, i64* cells, i64* spare) noexcept nogil:
    """The kernel's work queue into ``order``: the samples by decreasing lattice size
    ``T_n * (2 S_n + 1)``, ties in sample order (``before`` is a total order, so the result does
    not depend on the sort). Returns the total size (the call's work, which sizes the team).
    ``cells``, ``spare``: N each of scratch. Runs of ORDER_RUN by insertion, then merged
    (bottom-up, between ``order`` and ``spare``)."""
    cdef i64 n, k, lo, mid, hi, i, j, o, width, work = 0
    cdef i64* src = order
    cdef i64* dst = spare
    cdef i64* tmp
    for n in range(N):
        cells[n] = il[n] * (2 * tl[n] + 1)
        work += cells[n]
    lo = 0
    while lo < N:
        hi = lo + ORDER_RUN if lo + ORDER_RUN < N else N
        for n in range(lo, hi):
            k = n
            while k > lo and before(cells, n, order[k - 1]):
                order[k] = order[k - 1]
                k -= 1
            order[k] = n
        lo = hi
    width = ORDER_RUN
    while width < N:
        lo = 0
        while lo < N:
            mid = lo + width if lo + width < N else N
            hi = lo + 2 * width if lo + 2 * width < N else N
            i = lo
            j = mid
            for o in range(lo, hi):
                if j >= hi or (i < mid and not before(cells, src[j], src[i])):
                    dst[o] = src[i]
                    i += 1
                else:
                    dst[o] = src[j]
                    j += 1
            lo = hi
        tmp = src
        src = dst
        dst = tmp
        width *= 2
    if src != order:
        for n in range(N):
            order[n] = src[n]
    return work


cdef inline double sample_grad_scale(i64 tl, i64 N, int mode, double g) noexcept nogil:
    """The factor of a sample's gradient: grad_output ``g`` times the reduction's scale
    (1 / (N max(target_length, 1)) for 'mean', 1 otherwise)."""
    return g / (<double>N * <double>(tl if tl > 1 else 1)) if mode == REDUCE_MEAN else g


cdef double reduce_nll(double* nll, const i64* tl, i64 N, int mode, bint zero_infinity,
                       object nll_arr) except? -1.0:
    """zero_infinity (an infinite loss counts 0) on the per-sample losses ``nll``, in place; for
    'mean' and 'sum' the reduced loss: each sample's loss ('mean': over max(target_length, 1)),
    added in a fixed order (``partials_sum``; ``nll_arr``: ``nll`` as an ndarray), then
    ('mean') over N. 'none': 0 (``nll`` holds the losses)."""
    cdef i64 n
    cdef double total
    for n in range(N):
        if zero_infinity and nll[n] == INFINITY:
            nll[n] = 0.0
        if mode == REDUCE_MEAN:
            nll[n] = nll[n] / <double>(tl[n] if tl[n] > 1 else 1)
    if mode == REDUCE_NONE:
        return 0.0
    total = partials_sum(nll, N, nll_arr)
    return total / <double>N if mode == REDUCE_MEAN else total


cdef double run_reduced(object threads_for, const floating* lp0, i64 T, i64 N, i64 C, Py_ssize_t ts, Py_ssize_t ns,
                        Py_ssize_t cs, const i64* tgp, const i64* offsets, const i64* tl, const i64* il, i64 blank,
                        int mode, bint zero_infinity, double* nll, object nll_arr, floating* g0, double g,
                        const double* grad_outputs) except? -1.0:
    """The kernel (``ctc_run``'s arguments) run by the loss's rules, then reduced (``reduce_nll``).
    With ``g0``, each sample's gradient is scaled by ``sample_grad_scale`` of grad_output ``g``, or
    ('none' only) by ``grad_outputs[n]`` when that is not NULL. ``threads_for``: the loss layer's
    team-size policy (None: one thread)."""
    cdef i64 small_order[3 * SMALL_SUM]
    cdef double small_scales[SMALL_SUM]
    cdef i64* order = small_order
    cdef double* scales = small_scales
    cdef cnp.ndarray order_arr, scale_arr
    cdef i64 n, work
    cdef int threads
    if N > SMALL_SUM:
        order_arr = np.empty(3 * N, np.int64)
        order = <i64*>cnp.PyArray_DATA(order_arr)
        if g0 != NULL and grad_outputs == NULL:
            scale_arr = np.empty(N, np.float64)
            scales = <double*>cnp.PyArray_DATA(scale_arr)
    work = sample_order(il, tl, N, order, order + N, order + 2 * N)
    threads = team_size(threads_for, work)
    if g0 == NULL:
        # forward only: one task per sample, two (alpha and beta halves) with fewer samples than
        # threads (the gradient also splits its samples in halves, and its exp rows across all threads)
        threads = max(1, min(threads, 2 * N))
    elif grad_outputs != NULL:
        scales = <double*>grad_outputs
    else:
        for n in range(N):
            scales[n] = sample_grad_scale(tl[n], N, mode, g)
    ctc_run(lp0, T, N, C, ts, ns, cs, tgp, offsets, tl, il, order, blank, nll, g0,
            scales if g0 != NULL else NULL, zero_infinity, threads)
    return reduce_nll(nll, tl, N, mode, zero_infinity, nll_arr)


def host_loss(const floating[:, :, :] log_probs, const i64[::1] targets, const i64[::1] offsets,
              const i64[::1] target_lengths, const i64[::1] input_lengths, i64 blank, int mode,
              bint zero_infinity, cnp.ndarray nll, floating[:, :, ::1] grad, double grad_output,
              const double[::1] grad_outputs, object threads_for):
    """The loss of host arrays the caller has checked (``ctc_loss``'s arguments; ``mode``: 0 'sum',
    1 'mean', 2 'none'): the reduced loss as a float ('mean', 'sum'), None for 'none' (``nll``, a
    C-contiguous (N,) float64 ndarray, holds the losses, zero_infinity applied). ``grad`` (or
    None): the gradient, each sample's scaled by grad_output (a float), or for 'none' by
    ``grad_outputs`` (one per sample, or None)."""
    cdef i64 N = log_probs.shape[1]
    cdef double value
    value = run_reduced(threads_for, &log_probs[0, 0, 0], log_probs.shape[0], N, log_probs.shape[2],
                        log_probs.strides[0] // sizeof(floating), log_probs.strides[1] // sizeof(floating),
                        log_probs.strides[2] // sizeof(floating), &targets[0] if targets.shape[0] > 0 else NULL,
                        &offsets[0], &target_lengths[0], &input_lengths[0], blank, mode, zero_infinity,
                        <double*>cnp.PyArray_DATA(nll), nll, NULL if grad is None else &grad[0, 0, 0], grad_output,
                        NULL if grad_outputs is None else &grad_outputs[0])
    return None if mode == REDUCE_NONE else value


def grad_scales(const i64[::1] target_lengths, int mode, double grad_output):
    """Each sample's gradient factor (``sample_grad_scale``), as a float64 ndarray: the device
    path's (its kernels take them uploaded)."""
    cdef i64 n, N = target_lengths.shape[0]
    cdef cnp.ndarray out = np.empty(N, np.float64)
    cdef double* scales = <double*>cnp.PyArray_DATA(out)
    for n in range(N):
        scales[n] = sample_grad_scale(target_lengths[n], N, mode, grad_output)
    return out


def reduce_losses(cnp.ndarray nll, const i64[::1] target_lengths, int mode, bint zero_infinity):
    """``reduce_nll`` of the per-sample losses ``nll`` (a C-contiguous float64 host ndarray,
    changed in place): the device path's, on the losses it reads back. A float ('mean', 'sum')
    or None ('none')."""
    cdef double value = reduce_nll(<double*>cnp.PyArray_DATA(nll), &target_lengths[0], target_lengths.shape[0],
                                   mode, zero_infinity, nll)
    return None if mode == REDUCE_NONE else value


# The common case, compiled (issue 11): plain arrays are checked and allocated for here, and run
# by ``run_reduced`` as the general path runs them, so the results are the same bit for bit; any
# other call is answered None and the general path runs (and raises, for a call it refuses).
def common_case(object threads_for, object log_probs, object targets, object input_lengths,
                object target_lengths, object blank, object reduction, object zero_infinity, object grad):
    """ctc_loss in the common case, as the general path computes it; None for any other call.
    ``threads_for``: the loss layer's team-size policy (None: one thread).

    The common case: ``log_probs`` a C-contiguous (T, N, C) float32/float64 ndarray, not empty;
    ``targets`` a C-contiguous padded (N, S) int64 ndarray, every used label (position below the
    sample's target length) in [0, C); both lengths C-contiguous (N,) int64 ndarrays, input lengths
    in [0, T], target lengths in [0, S]; ``blank`` an int in [0, C); ``reduction`` 'mean' or 'sum';
    ``zero_infinity`` a bool; ``grad`` None or asking for the log_probs gradient without
    grad_output. Returns the 0-d loss, or ``(loss, {'log_probs': gradient})`` with ``grad``.
    """
    cdef int typenum
    cdef bint want, zinf
    cdef cnp.ndarray lp, tg, il_arr, tl_arr
    cdef cnp.ndarray grad_out = None
    cdef cnp.ndarray nll_arr = None
    cdef cnp.ndarray offsets_arr
    cdef cnp.npy_intp* dims
    cdef i64 T, N, C, S, b, n, j
    cdef const i64* il
    cdef const i64* tl
    cdef const i64* tgp
    cdef double small_nll[SMALL_SUM]
    cdef double* nll = small_nll
    cdef i64 small_offsets[SMALL_SUM]
    cdef i64* offsets = small_offsets
    cdef double total
    cdef int mode = mean_or_sum(reduction), wanted = wants_only(grad, "log_probs")
    if mode < 0 or wanted < 0:
        return None
    want = wanted == 1
    if zero_infinity is True:
        zinf = True
    elif zero_infinity is False:
        zinf = False
    else:
        return None
    if not cnp.PyArray_CheckExact(log_probs) or type(blank) is not int:
        return None
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>log_probs)
    if ((typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64) or not plain_array(log_probs, typenum, 3)
            or not plain_array(targets, cnp.NPY_INT64, 2) or not plain_array(input_lengths, cnp.NPY_INT64, 1)
            or not plain_array(target_lengths, cnp.NPY_INT64, 1)):
        return None
    lp = <cnp.ndarray>log_probs
    tg = <cnp.ndarray>targets
    il_arr = <cnp.ndarray>input_lengths
    tl_arr = <cnp.ndarray>target_lengths
    dims = cnp.PyArray_DIMS(lp)
    T = dims[0]
    N = dims[1]
    C = dims[2]
    S = cnp.PyArray_DIMS(tg)[1]
    if (T == 0 or N == 0 or C == 0 or cnp.PyArray_DIMS(tg)[0] != N or cnp.PyArray_DIMS(il_arr)[0] != N
            or cnp.PyArray_DIMS(tl_arr)[0] != N or not 0 <= blank < C):
        return None
    b = blank
    il = <const i64*>cnp.PyArray_DATA(il_arr)
    tl = <const i64*>cnp.PyArray_DATA(tl_arr)
    tgp = <const i64*>cnp.PyArray_DATA(tg)
    # the general path's checks: lengths in range, every used label in [0, C)
    for n in range(N):
        if il[n] < 0 or il[n] > T or tl[n] < 0 or tl[n] > S:
            return None
        for j in range(tl[n]):
            if tgp[n * S + j] < 0 or tgp[n * S + j] >= C:
                return None
    if N > SMALL_SUM:
        nll_arr = cnp.PyArray_EMPTY(1, <cnp.npy_intp*>&N, cnp.NPY_FLOAT64, 0)
        nll = <double*>cnp.PyArray_DATA(nll_arr)
        offsets_arr = cnp.PyArray_EMPTY(1, <cnp.npy_intp*>&N, cnp.NPY_INT64, 0)
        offsets = <i64*>cnp.PyArray_DATA(offsets_arr)
    for n in range(N):
        offsets[n] = n * S
    if want:
        grad_out = cnp.PyArray_EMPTY(3, dims, typenum, 0)
    if typenum == cnp.NPY_FLOAT32:
        total = run_reduced(threads_for, <const float*>cnp.PyArray_DATA(lp), T, N, C, N * C, C, 1,
                            tgp if N * S > 0 else NULL, offsets, tl, il, b, mode, zinf, nll, nll_arr,
                            <float*>(cnp.PyArray_DATA(grad_out) if want else NULL), 1.0, NULL)
    else:
        total = run_reduced(threads_for, <const double*>cnp.PyArray_DATA(lp), T, N, C, N * C, C, 1,
                            tgp if N * S > 0 else NULL, offsets, tl, il, b, mode, zinf, nll, nll_arr,
                            <double*>(cnp.PyArray_DATA(grad_out) if want else NULL), 1.0, NULL)
    loss = scalar_result(total, typenum)
    return (loss, {"log_probs": grad_out}) if want else loss
