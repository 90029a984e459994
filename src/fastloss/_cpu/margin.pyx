# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fused forward + gradient kernels of the class-margin losses (multi_margin, multilabel_margin).

Both work row by row on a C-contiguous ``(N, C)`` input: one OpenMP ``prange`` over rows, each row
computing its loss (into ``rowloss``, in double) and, when asked, its gradient row already scaled by
the row's grad_output. The Python layer (``fastloss._losses.margin``) has validated every class index,
so the kernels index without checks. Row losses are reduced by the caller in a fixed order, so the
result does not depend on the thread count.
"""
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, free, qsort
from libc.stdint cimport int64_t

from .kernel_utils cimport floating


def multi_margin(const floating[:, ::1] x, const int64_t[::1] target, const floating[::1] weight,
                 double margin, int p, double[::1] rowloss, floating[:, ::1] gx,
                 const floating[::1] go, double g_scale, int n_threads):
    """multi_margin_loss rows: ``rowloss[n] = sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C``.

    ``weight``: per-class weights or None. ``gx``: gradient output or None; row ``n`` is scaled by
    ``g_scale * go[n]`` (``go`` None: by ``g_scale``). As torch's CPU kernel, ``z`` and the per-term
    ``h`` are formed in the input's precision and summed in double; the weight multiplies ``z^p``.
    """
    cdef Py_ssize_t rows = x.shape[0], C = x.shape[1]
    cdef Py_ssize_t r, i, t
    cdef bint want_grad = gx is not None
    cdef bint weighted = weight is not None
    cdef bint per_row_go = go is not None
    cdef floating fmargin = <floating>margin
    cdef floating xt, z, h, wt, g, acc
    cdef double s
    cdef const floating *xr
    cdef floating *gr
    if rows == 0:
        return
    with nogil:
        for r in prange(rows, schedule='static', num_threads=n_threads):
            xr = &x[r, 0]
            t = target[r]
            xt = xr[t]
            wt = weight[t] if weighted else 1
            s = 0
            if want_grad:
                gr = &gx[r, 0]
                # torch's g = 1 / C (times the reduction scale and the row's grad_output)
                g = <floating>(g_scale * (go[r] if per_row_go else 1.0) / C)
                acc = 0
                for i in range(C):
                    z = fmargin - xt + xr[i]
                    if i != t and z > 0:
                        h = z if p == 1 else z * z
                        s = s + h * wt
                        h = g * wt if p == 1 else 2 * g * z * wt
                        gr[i] = h
                        acc = acc - h
                    else:
                        gr[i] = 0
                gr[t] = acc
            else:
                for i in range(C):
                    z = fmargin - xt + xr[i]
                    if i != t and z > 0:
                        h = z if p == 1 else z * z
                        s = s + h * wt
            rowloss[r] = s / C


ctypedef struct keyed:
    double key           # 1 - x[target] in the input's precision (exact in double)
    Py_ssize_t index     # the target's class index


cdef int compare_keyed(const void *a, const void *b) noexcept nogil:
    # Ascending, NaN first: a NaN key never satisfies ``key + x > 0``, so the keys that do form a
    # suffix of the sorted array for every x.
    cdef double ka = (<const keyed*>a).key
    cdef double kb = (<const keyed*>b).key
    if ka != ka:
        return 0 if kb != kb else -1
    if kb != kb:
        return 1
    return (ka > kb) - (ka < kb)


def multilabel_margin(const floating[:, ::1] x, const int64_t[:, ::1] target, double[::1] rowloss,
                      floating[:, ::1] gx, const floating[::1] go, double g_scale, int n_threads):
    """multilabel_margin_loss rows in O(C log C).

    With ``J`` the leading run of ``target[n]`` before the first -1 (duplicates counted each time, as
    torch) and ``I`` the classes not in ``J``, the row loss is
    ``sum_{j in J} sum_{i in I} max(0, 1 - x[j] + x[i]) / C``. torch loops over all (j, i) pairs;
    here the keys ``a_j = 1 - x[j]`` are sorted once, and for each non-target ``i`` a binary search
    finds the suffix of keys with ``a_j + x[i] > 0`` (the same comparison torch makes, in the input's
    precision): that gives the loss (suffix sum of keys + count * x[i]), ``d/dx[i] = count / C``, and,
    through a difference array over the sorted keys, ``d/dx[j] = -#{i : a_j + x[i] > 0} / C``.
    """
    cdef Py_ssize_t rows = x.shape[0], C = x.shape[1]
    cdef Py_ssize_t r, i, k, T, lo, hi, mid, count
    cdef bint want_grad = gx is not None
    cdef bint per_row_go = go is not None
    cdef const floating *xr
    cdef const int64_t *yr
    cdef floating *gr
    cdef floating xi, g
    cdef double s
    cdef char *is_target
    cdef keyed *keys
    cdef double *suffix
    cdef Py_ssize_t *hits
    if rows == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        is_target = <char*> malloc(C * sizeof(char))
        keys = <keyed*> malloc(C * sizeof(keyed))
        suffix = <double*> malloc((C + 1) * sizeof(double))
        hits = <Py_ssize_t*> malloc((C + 1) * sizeof(Py_ssize_t))
        for r in prange(rows, schedule='static'):
            xr = &x[r, 0]
            yr = &target[r, 0]
            T = 0
            while T < C and yr[T] >= 0:
                T = T + 1
            for i in range(C):
                is_target[i] = 0
            for k in range(T):
                is_target[yr[k]] = 1
                keys[k].key = <double>(<floating>1 - xr[yr[k]])
                keys[k].index = yr[k]
            qsort(keys, T, sizeof(keyed), compare_keyed)
            suffix[T] = 0
            hits[T] = 0
            k = T - 1
            while k >= 0:
                suffix[k] = suffix[k + 1] + keys[k].key
                hits[k] = 0
                k = k - 1
            g = 0
            gr = NULL
            if want_grad:
                gr = &gx[r, 0]
                g = <floating>(g_scale * (go[r] if per_row_go else 1.0) / C)
            s = 0
            for i in range(C):
                if is_target[i]:
                    if want_grad:
                        gr[i] = 0
                    continue
                xi = xr[i]
                # first sorted key with <floating>key + x[i] > 0 (monotone in the key)
                lo = 0
                hi = T
                while lo < hi:
                    mid = (lo + hi) // 2
                    if <floating>keys[mid].key + xi > 0:
                        hi = mid
                    else:
                        lo = mid + 1
                count = T - lo
                if count:
                    s = s + suffix[lo] + count * <double>xi
                    if want_grad:
                        hits[lo] = hits[lo] + 1
                if want_grad:
                    gr[i] = count * g
            if want_grad:
                # hits[k] non-targets start at sorted key k, so key k is active for the running count
                count = 0
                for k in range(T):
                    count = count + hits[k]
                    gr[keys[k].index] = gr[keys[k].index] - count * g
            rowloss[r] = s / C
        free(is_target)
        free(keys)
        free(suffix)
        free(hits)
