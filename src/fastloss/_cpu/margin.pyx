# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fused forward + gradient kernels of the class-margin losses (multi_margin, multilabel_margin).

Both work row by row on a C-contiguous ``(N, C)`` input: one OpenMP ``prange`` over rows, each row
computing its loss (into ``rowloss``, in double) and, when asked, its gradient row already scaled by
the row's grad_output. The Python layer (``fastloss._losses.margin``) has validated every class index,
so the kernels index without checks. Row losses are reduced by the caller in a fixed order, so the
result does not depend on the thread count.
"""
from cython.parallel cimport prange, parallel
from libc.stdlib cimport free
from libc.stdint cimport int64_t
cimport numpy as cnp

from .kernel_utils cimport (floating, sum_block, FlGuard, fl_guard_init, fl_guard_alloc, fl_guard_tick, fl_poll_mask,
                            guard_raise)
from .common_case cimport (SMALL_SUM, mean_or_sum, plain_array, partials_sum, scalar_result, team_size,
                           wants_only)

cnp.import_array()


def multi_margin(const floating[:, ::1] x, const int64_t[::1] target, const floating[::1] weight,
                 double margin, int p, double[::1] rowloss, floating[:, ::1] gx,
                 const floating[::1] go, double g_scale, int n_threads):
    """multi_margin_loss rows: ``rowloss[n] = sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C``.

    ``weight``: per-class weights or None. ``gx``: gradient output or None; row ``n`` is scaled by
    ``g_scale * go[n]`` (``go`` None: by ``g_scale``). As torch's CPU kernel, ``z`` is formed in the
    input's precision and the weight multiplies ``z^p``; sums are taken in double.

    Each row is two short passes: a branch-free (vectorisable) pass writes the hinge terms to a
    per-thread scratch row (and the gradient row), then ``sum_block`` adds them; the target's own
    term (``z = margin``) is zeroed before the sums, and its gradient is minus the row's sum.
    """
    if x.shape[0] == 0:
        return
    multi_margin_rows(&x[0, 0], x.shape[0], x.shape[1], &target[0], NULL if weight is None else &weight[0],
                      margin, p, &rowloss[0], NULL if gx is None else &gx[0, 0], NULL if go is None else &go[0],
                      g_scale, n_threads)


cdef int multi_margin_rows(const floating* x, Py_ssize_t rows, Py_ssize_t C, const int64_t* target,
                           const floating* weight, double margin, int p, double* rowloss, floating* gx,
                           const floating* go, double g_scale, int n_threads) except -1:
    """:func:`multi_margin` on raw pointers (NULL for an absent weight, gradient, grad_output)."""
    cdef Py_ssize_t r, i, t
    cdef bint want_grad = gx != NULL
    cdef bint weighted = weight != NULL
    cdef bint per_row_go = go != NULL
    cdef floating fmargin = <floating>margin
    cdef floating xt, z, wt, g, g2
    cdef const floating *xr
    cdef floating *gr
    cdef floating *h
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(C)
    fl_guard_init(&guard)
    with nogil, parallel(num_threads=n_threads):
        h = <floating*> fl_guard_alloc(&guard, C, sizeof(floating))
        for r in prange(rows, schedule='static'):
            if fl_guard_tick(&guard, r, poll):
                continue
            xr = x + r * C
            t = target[r]
            xt = fmargin - xr[t]
            wt = weight[t] if weighted else 1
            if want_grad:
                gr = gx + r * C
                # torch's g = 1 / C (times the reduction scale and the row's grad_output) and the weight
                g = <floating>(g_scale * (go[r] if per_row_go else 1.0) * wt / C)
                g2 = g + g
                if p == 1:
                    for i in range(C):
                        z = xt + xr[i]
                        h[i] = z if z > 0 else 0
                        gr[i] = g if z > 0 else 0
                else:
                    for i in range(C):
                        z = xt + xr[i]
                        z = z if z > 0 else 0
                        h[i] = z * z
                        gr[i] = g2 * z
                gr[t] = 0
                gr[t] = -<floating>sum_block(gr, C)
            else:
                if p == 1:
                    for i in range(C):
                        z = xt + xr[i]
                        h[i] = z if z > 0 else 0
                else:
                    for i in range(C):
                        z = xt + xr[i]
                        z = z if z > 0 else 0
                        h[i] = z * z
            h[t] = 0
            rowloss[r] = sum_block(h, C) * wt / C
        free(h)
    return guard_raise(&guard)


cdef enum:
    SORT_RUN = 16


cdef inline bint key_before(floating a, floating b) noexcept nogil:
    # Ascending, NaN first: a NaN key never satisfies ``key + x > 0``, so the keys that do form a
    # suffix of the sorted array for every x.
    return (a != a and b == b) or a < b


cdef void sort_keys(floating *key, Py_ssize_t *index, floating *key2, Py_ssize_t *index2,
                    Py_ssize_t n) noexcept nogil:
    """Sort ``key`` (with ``index`` alongside) ascending, NaN first: insertion-sorted runs of
    SORT_RUN, then bottom-up merges through the scratch ``key2``/``index2`` (O(n log n) always)."""
    cdef Py_ssize_t lo, hi, i, j, width, a, b, a_end, b_end, out
    cdef floating v
    cdef Py_ssize_t vi
    cdef floating *src = key
    cdef floating *dst = key2
    cdef Py_ssize_t *isrc = index
    cdef Py_ssize_t *idst = index2
    cdef floating *tk
    cdef Py_ssize_t *ti
    lo = 0
    while lo < n:
        hi = lo + SORT_RUN if lo + SORT_RUN < n else n
        for i in range(lo + 1, hi):
            v = key[i]
            vi = index[i]
            j = i - 1
            while j >= lo and key_before(v, key[j]):
                key[j + 1] = key[j]
                index[j + 1] = index[j]
                j = j - 1
            key[j + 1] = v
            index[j + 1] = vi
        lo = hi
    width = SORT_RUN
    while width < n:
        lo = 0
        while lo < n:
            a = lo
            a_end = lo + width if lo + width < n else n
            b = a_end
            b_end = lo + 2 * width if lo + 2 * width < n else n
            out = lo
            while a < a_end and b < b_end:
                if key_before(src[b], src[a]):
                    dst[out] = src[b]
                    idst[out] = isrc[b]
                    b = b + 1
                else:
                    dst[out] = src[a]
                    idst[out] = isrc[a]
                    a = a + 1
                out = out + 1
            while a < a_end:
                dst[out] = src[a]
                idst[out] = isrc[a]
                a = a + 1
                out = out + 1
            while b < b_end:
                dst[out] = src[b]
                idst[out] = isrc[b]
                b = b + 1
                out = out + 1
            lo = lo + 2 * width
        tk = src
        src = dst
        dst = tk
        ti = isrc
        isrc = idst
        idst = ti
        width = width * 2
    if src != key:
        for i in range(n):
            key[i] = src[i]
            index[i] = isrc[i]


cdef inline Py_ssize_t first_active(const floating *key, Py_ssize_t n, floating xi) noexcept nogil:
    """The first sorted key with ``key + xi > 0`` (n if none): a branch-free lower bound whose trip
    count depends on n only, so the loop branch is always predicted and searches for consecutive
    classes overlap in the CPU."""
    cdef Py_ssize_t base = 0, half
    if n == 0:
        return 0
    while n > 1:
        half = n >> 1
        base = base + (not (key[base + half] + xi > 0)) * half
        n = n - half
    return base + (not (key[base] + xi > 0))


def multilabel_margin(const floating[:, ::1] x, const int64_t[:, ::1] target, double[::1] rowloss,
                      floating[:, ::1] gx, const floating[::1] go, double g_scale, int n_threads):
    """multilabel_margin_loss rows in O(C log C).

    With ``J`` the leading run of ``target[n]`` before the first -1 (duplicates counted each time, as
    torch) and ``I`` the classes not in ``J``, the row loss is
    ``sum_{j in J} sum_{i in I} max(0, 1 - x[j] + x[i]) / C``. torch loops over all (j, i) pairs;
    here the keys ``a_j = 1 - x[j]`` are sorted once, and for each non-target ``i`` a binary search
    finds the suffix of keys with ``a_j + x[i] > 0`` (the same comparison torch makes, in the input's
    precision): that gives the loss (suffix sum of keys + count * x[i], in double),
    ``d/dx[i] = count / C``, and, through a difference array over the sorted keys,
    ``d/dx[j] = -#{i : a_j + x[i] > 0} / C``.
    """
    if x.shape[0] == 0:
        return
    multilabel_margin_rows(&x[0, 0], x.shape[0], x.shape[1], &target[0, 0], &rowloss[0],
                           NULL if gx is None else &gx[0, 0], NULL if go is None else &go[0], g_scale, n_threads)


cdef int multilabel_margin_rows(const floating* x, Py_ssize_t rows, Py_ssize_t C, const int64_t* target,
                                double* rowloss, floating* gx, const floating* go, double g_scale,
                                int n_threads) except -1:
    """:func:`multilabel_margin` on raw pointers (NULL for an absent gradient, grad_output)."""
    cdef Py_ssize_t r, i, k, T, lo, count
    cdef bint want_grad = gx != NULL
    cdef bint per_row_go = go != NULL
    cdef const floating *xr
    cdef const int64_t *yr
    cdef floating *gr
    cdef floating xi, g
    cdef double s
    cdef char *is_target
    cdef floating *keys
    cdef floating *keys2
    cdef Py_ssize_t *index
    cdef Py_ssize_t *index2
    cdef double *suffix
    cdef Py_ssize_t *hits
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(8 * C)
    fl_guard_init(&guard)
    with nogil, parallel(num_threads=n_threads):
        is_target = <char*> fl_guard_alloc(&guard, C, sizeof(char))
        keys = <floating*> fl_guard_alloc(&guard, 2 * C, sizeof(floating))
        keys2 = keys + C
        index = <Py_ssize_t*> fl_guard_alloc(&guard, 2 * C, sizeof(Py_ssize_t))
        index2 = index + C
        suffix = <double*> fl_guard_alloc(&guard, C + 1, sizeof(double))
        hits = <Py_ssize_t*> fl_guard_alloc(&guard, C + 1, sizeof(Py_ssize_t))
        for r in prange(rows, schedule='static'):
            if fl_guard_tick(&guard, r, poll):
                continue
            xr = x + r * C
            yr = target + r * C
            T = 0
            while T < C and yr[T] >= 0:
                T = T + 1
            for i in range(C):
                is_target[i] = 0
            for k in range(T):
                is_target[yr[k]] = 1
                keys[k] = 1 - xr[yr[k]]
                index[k] = yr[k]
            sort_keys(keys, index, keys2, index2, T)
            suffix[T] = 0
            hits[T] = 0
            k = T - 1
            while k >= 0:
                suffix[k] = suffix[k + 1] + keys[k]
                hits[k] = 0
                k = k - 1
            g = 0
            gr = NULL
            if want_grad:
                gr = gx + r * C
                g = <floating>(g_scale * (go[r] if per_row_go else 1.0) / C)
            s = 0
            for i in range(C):
                if is_target[i]:
                    if want_grad:
                        gr[i] = 0
                    continue
                xi = xr[i]
                lo = first_active(keys, T, xi)
                count = T - lo
                if count:
                    # (a NaN x[i] activates no key, as torch's ``z > 0`` is false for NaN)
                    s = s + (suffix[lo] + count * <double>xi)
                if want_grad:
                    hits[lo] = hits[lo] + 1
                    gr[i] = count * g
            if want_grad:
                # hits[k] non-targets have keys k.. active, so key k is active for the running count
                count = 0
                for k in range(T):
                    count = count + hits[k]
                    gr[index[k]] = gr[index[k]] - count * g
            rowloss[r] = s / C
        free(is_target)
        free(keys)
        free(index)
        free(suffix)
        free(hits)
    return guard_raise(&guard)


# The common case, compiled (issue 11): plain arrays are checked, allocated for, run and reduced
# here, with the results of the loss layer's general path bit for bit (the same row loops, thread
# count, partial sums and scaling); anything else is answered None and the general path runs.
def common_case(object threads_for, bint multi, object input, object target, object reduction, object grad,
                object p=1, object margin=1.0):
    """multi_margin_loss without weight (``multi``) or multilabel_margin_loss in the common case,
    as the general path computes it; None for any other call. ``threads_for``: the loss layer's
    team-size policy (None: one thread).

    The common case: ``input`` a C-contiguous ``(N, C)`` float32/float64 ndarray, ``N, C > 0``;
    ``target`` a C-contiguous int64 ndarray of shape ``(N,)`` (multi) or ``(N, C)`` with every entry
    in ``[0, C)`` (multi) or ``[-1, C)``; ``reduction`` 'mean' or 'sum' (the caller has checked the
    legacy arguments); ``grad`` None or asking for the input's gradient without grad_output; ``p``
    the int 1 or 2 and ``margin`` a Python float or int (multi). Returns the 0-d loss, or
    ``(loss, {'input': gradient})`` with ``grad``.
    """
    cdef int typenum
    cdef int pp = 1
    cdef double m = 1.0
    cdef bint mean, want
    cdef cnp.ndarray x, y
    cdef cnp.ndarray gx = None
    cdef cnp.ndarray partials = None
    cdef Py_ssize_t N, C, i, count
    cdef const int64_t* t
    cdef int64_t low, high
    cdef double buf[SMALL_SUM]
    cdef double* rowloss = buf
    cdef double scale
    cdef void* g = NULL
    cdef int mode = mean_or_sum(reduction), wanted = wants_only(grad, "input")
    if mode < 0 or wanted < 0:
        return None
    mean, want = mode == 1, wanted == 1
    if not cnp.PyArray_CheckExact(input):
        return None
    typenum = cnp.PyArray_TYPE(<cnp.ndarray>input)
    if ((typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64) or not plain_array(input, typenum, 2)
            or not plain_array(target, cnp.NPY_INT64, 1 if multi else 2)):
        return None
    x = <cnp.ndarray>input
    y = <cnp.ndarray>target
    N = cnp.PyArray_DIMS(x)[0]
    C = cnp.PyArray_DIMS(x)[1]
    if N == 0 or C == 0 or cnp.PyArray_DIMS(y)[0] != N or (not multi and cnp.PyArray_DIMS(y)[1] != C):
        return None
    if multi:
        if type(p) is not int or not (p == 1 or p == 2):
            return None
        pp = p
        if type(margin) is float:
            m = margin
        elif type(margin) is int:
            try:
                m = float(margin)
            except OverflowError:
                return None
        else:
            return None
    # every class index in range (else the general path raises its IndexError)
    t = <const int64_t*>cnp.PyArray_DATA(y)
    count = N if multi else N * C
    low = high = t[0]
    for i in range(1, count):
        low = t[i] if t[i] < low else low
        high = t[i] if t[i] > high else high
    if low < (0 if multi else -1) or high >= C:
        return None
    if N > SMALL_SUM:
        partials = cnp.PyArray_EMPTY(1, <cnp.npy_intp*>&N, cnp.NPY_FLOAT64, 0)
        rowloss = <double*>cnp.PyArray_DATA(partials)
    if want:
        gx = cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(x), typenum, 0)
        g = cnp.PyArray_DATA(gx)
    scale = 1.0 / N if mean else 1.0
    if multi:
        if typenum == cnp.NPY_FLOAT32:
            multi_margin_rows(<const float*>cnp.PyArray_DATA(x), N, C, t, <const float*>NULL, m, pp, rowloss,
                              <float*>g, NULL, scale, team_size(threads_for, N * C))
        else:
            multi_margin_rows(<const double*>cnp.PyArray_DATA(x), N, C, t, <const double*>NULL, m, pp, rowloss,
                              <double*>g, NULL, scale, team_size(threads_for, N * C))
    elif typenum == cnp.NPY_FLOAT32:
        multilabel_margin_rows(<const float*>cnp.PyArray_DATA(x), N, C, t, rowloss, <float*>g, NULL, scale,
                               team_size(threads_for, N * C * 8))
    else:
        multilabel_margin_rows(<const double*>cnp.PyArray_DATA(x), N, C, t, rowloss, <double*>g, NULL, scale,
                               team_size(threads_for, N * C * 8))
    loss = scalar_result(partials_sum(rowloss, N, partials) * scale, typenum)
    return (loss, {"input": gx}) if want else loss
