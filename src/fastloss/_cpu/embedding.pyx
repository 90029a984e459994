# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fused forward + gradient kernels of the embedding losses: cosine_embedding, triplet_margin and
the pairwise p-norm distance they are built on.

Operands are 2-D strided views ``(N, D)`` of the broadcast shape (stride 0 where an argument is
broadcast); gradients are written C-contiguous in the broadcast shape and summed back by the
Python layer (``fastloss._losses.embedding``) only when an argument was broadcast. One OpenMP
``prange`` over rows; each row's reductions are accumulated in double, then its gradient row is
written while the row is still in cache. Row losses go to ``rowloss`` (double) and are reduced by
the caller in a fixed order (thread-count independent).
"""
from cython.parallel cimport prange
from libc.math cimport pow, fabs, sqrt, INFINITY, isnan
from libc.stdint cimport int8_t

from .kernel_utils cimport floating, FlGuard, fl_guard_init, fl_guard_tick, fl_poll_mask, guard_raise, sq_diff_sum, dot3

# Norm kinds, chosen once in Python from p (torch's norm_backward distinguishes the same cases).
cdef enum:
    NORM_ZERO = 0       # p == 0: number of non-zeros, no gradient
    NORM_ONE = 1
    NORM_TWO = 2
    NORM_INF = 3
    NORM_NEG_INF = 4
    NORM_BELOW_ONE = 5  # p < 1 (not 0): sgn(d)|d|^(p-1) * D^(1-p), 0 where d == 0
    NORM_GENERAL = 6    # p > 1: sgn(d)|d|^(p-1) / D^(p-1), 0 where D == 0


# torch's EPSILON of cosine_embedding_loss is a C++ float: 1e-12 rounded to float32 (9.99999996e-13),
# which shows in the gradient of a zero vector (it scales as 1 / sqrt(EPSILON)).
cdef double COSINE_EPSILON = <double><float>1e-12


cdef inline Py_ssize_t elem(Py_ssize_t byte_stride, Py_ssize_t itemsize) noexcept nogil:
    return byte_stride // itemsize


cdef inline double norm_of_diff(const floating *u, Py_ssize_t us, const floating *v, Py_ssize_t vs,
                                Py_ssize_t D, floating eps, int kind, double p) noexcept nogil:
    """``|| u - v + eps ||_p`` with the difference formed in the input's precision (as torch)."""
    cdef Py_ssize_t k
    cdef floating d
    cdef double s = 0, a
    if kind == NORM_TWO:
        if us == 1 and vs == 1:
            return sqrt(sq_diff_sum(u, 1, v, 1, D, eps))
        return sqrt(sq_diff_sum(u, us, v, vs, D, eps))
    if kind == NORM_INF or kind == NORM_NEG_INF:
        s = -INFINITY if kind == NORM_INF else INFINITY
        for k in range(D):
            d = u[k * us] - v[k * vs] + eps
            a = fabs(<double>d)
            if a != a:
                return a
            if (kind == NORM_INF and a > s) or (kind == NORM_NEG_INF and a < s):
                s = a
        return s if D > 0 else 0.0
    for k in range(D):
        d = u[k * us] - v[k * vs] + eps
        a = fabs(<double>d)
        if kind == NORM_ONE:
            s = s + a
        elif kind == NORM_ZERO:
            s = s + (a != 0)
        else:
            s = s + pow(a, p)
    if kind == NORM_ONE or kind == NORM_ZERO:
        return s
    return pow(s, 1.0 / p)


cdef inline void norm_grad(const floating *u, Py_ssize_t us, const floating *v, Py_ssize_t vs,
                           Py_ssize_t D, floating eps, int kind, double p, double dist, double c,
                           floating *gu, floating *gv, bint accumulate) noexcept nogil:
    """Add ``c * d dist / d u`` to ``gu`` and ``c * d dist / d v`` (its negative) to ``gv``.

    ``gu``/``gv`` are contiguous rows (either may be NULL); ``accumulate`` False overwrites them.
    The derivative follows torch's norm_backward case by case, including its zero masks.
    """
    cdef Py_ssize_t k, ties = 0
    cdef floating d
    cdef double a, f, scale = 0, gk
    if kind == NORM_TWO:
        scale = c / dist if dist != 0 else 0.0
    elif kind == NORM_INF or kind == NORM_NEG_INF:
        for k in range(D):
            a = fabs(<double>(u[k * us] - v[k * vs] + eps))
            ties = ties + (a == dist or a != a)
        scale = c / ties if ties else 0.0
    elif kind == NORM_BELOW_ONE:
        scale = c * pow(dist, 1.0 - p)
    elif kind == NORM_GENERAL:
        scale = c / pow(dist, p - 1.0) if dist != 0 else 0.0
    elif kind == NORM_ONE:
        scale = c
    for k in range(D):
        if kind == NORM_TWO:
            d = u[k * us] - v[k * vs] + eps
            gk = scale * d
        elif kind == NORM_ZERO:
            gk = 0
        else:
            d = u[k * us] - v[k * vs] + eps
            a = fabs(<double>d)
            f = (d > 0) - (d < 0)
            if kind == NORM_ONE:
                gk = scale * f
            elif kind == NORM_INF or kind == NORM_NEG_INF:
                gk = scale * f if (a == dist or a != a) else 0.0
            elif a == 0:
                gk = 0
            else:
                gk = scale * f * pow(a, p - 1.0)
        if accumulate:
            if gu != NULL:
                gu[k] = gu[k] + <floating>gk
            if gv != NULL:
                gv[k] = gv[k] - <floating>gk
        else:
            if gu != NULL:
                gu[k] = <floating>gk
            if gv != NULL:
                gv[k] = <floating>(-gk)


def pairwise_distance(const floating[:, :] x1, const floating[:, :] x2, double p, int kind, double eps,
                      double[::1] dist, floating[:, ::1] g1, floating[:, ::1] g2,
                      const double[::1] gdist, int n_threads):
    """Row distances ``dist[n] = ||x1[n] - x2[n] + eps||_p`` (``gdist`` None), or, given the
    distances and their output gradient ``gdist``, the gradients ``g1``/``g2`` (either may be None)."""
    cdef Py_ssize_t rows = x1.shape[0], D = x1.shape[1], r
    cdef Py_ssize_t s10 = elem(x1.strides[0], sizeof(floating)), s11 = elem(x1.strides[1], sizeof(floating))
    cdef Py_ssize_t s20 = elem(x2.strides[0], sizeof(floating)), s21 = elem(x2.strides[1], sizeof(floating))
    cdef const floating *b1
    cdef const floating *b2
    cdef floating feps = <floating>eps
    cdef bint backward = gdist is not None
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(D)
    if rows == 0:
        return
    if D == 0:
        if not backward:
            dist[:] = 0
        return
    b1 = &x1[0, 0]
    b2 = &x2[0, 0]
    fl_guard_init(&guard)
    with nogil:
        for r in prange(rows, schedule='static', num_threads=n_threads):
            if fl_guard_tick(&guard, r, poll):
                continue
            if not backward:
                dist[r] = norm_of_diff(b1 + r * s10, s11, b2 + r * s20, s21, D, feps, kind, p)
            else:
                norm_grad(b1 + r * s10, s11, b2 + r * s20, s21, D, feps, kind, p, dist[r], gdist[r],
                          &g1[r, 0] if g1 is not None else NULL, &g2[r, 0] if g2 is not None else NULL, False)
    guard_raise(&guard)


def triplet_margin(const floating[:, :] a, const floating[:, :] pos, const floating[:, :] neg,
                   double margin, double p, int kind, double eps, bint swap,
                   double[::1] rowloss, floating[:, ::1] ga, floating[:, ::1] gp, floating[:, ::1] gn,
                   const floating[::1] go, double g_scale, int n_threads):
    """triplet_margin rows: ``max(0, margin + d(a, p) - d_neg)`` with ``d(u, v) = ||u - v + eps||_p`` and
    ``d_neg = d(a, n)``, or ``min(d(a, n), d(p, n))`` with ``swap``.

    Gradients (all three or none): the row's upstream gradient is ``go[n] * g_scale`` where
    ``margin + d(a, p) - d_neg >= 0`` (torch's clamp_min passes the gradient at 0), else 0. With
    ``swap``, a tie ``d(p, n) == d(a, n)`` splits the gradient evenly between them (torch's
    binary min/minimum backward).
    """
    cdef Py_ssize_t rows = a.shape[0], D = a.shape[1], r, k
    cdef Py_ssize_t sa0 = elem(a.strides[0], sizeof(floating)), sa1 = elem(a.strides[1], sizeof(floating))
    cdef Py_ssize_t sp0 = elem(pos.strides[0], sizeof(floating)), sp1 = elem(pos.strides[1], sizeof(floating))
    cdef Py_ssize_t sn0 = elem(neg.strides[0], sizeof(floating)), sn1 = elem(neg.strides[1], sizeof(floating))
    cdef const floating *ba
    cdef const floating *bp
    cdef const floating *bn
    cdef const floating *ar
    cdef const floating *pr
    cdef const floating *nr
    cdef floating *gar
    cdef floating *gpr
    cdef floating *gnr
    cdef floating feps = <floating>eps
    cdef floating da, dn, dq
    cdef bint want_grad = ga is not None
    cdef bint per_row_go = go is not None
    cdef double d_ap, d_an, d_pn, d_neg, v, g, w_an, w_pn, c_ap, c_an, c_pn
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(3 * D)
    if rows == 0:
        return
    if D == 0:
        # every distance is 0 (torch: the norm of an empty row)
        rowloss[:] = margin if margin > 0 else 0.0
        return
    ba = &a[0, 0]
    bp = &pos[0, 0]
    bn = &neg[0, 0]
    fl_guard_init(&guard)
    with nogil:
        for r in prange(rows, schedule='static', num_threads=n_threads):
            if fl_guard_tick(&guard, r, poll):
                continue
            ar = ba + r * sa0
            pr = bp + r * sp0
            nr = bn + r * sn0
            d_ap = norm_of_diff(ar, sa1, pr, sp1, D, feps, kind, p)
            d_an = norm_of_diff(ar, sa1, nr, sn1, D, feps, kind, p)
            d_neg = d_an
            w_an = 1
            w_pn = 0
            d_pn = 0
            if swap:
                d_pn = norm_of_diff(pr, sp1, nr, sn1, D, feps, kind, p)
                if d_pn < d_an:
                    d_neg = d_pn
                    w_an = 0
                    w_pn = 1
                elif d_pn == d_an:
                    w_an = 0.5
                    w_pn = 0.5
            # torch's clamp_min(margin + d_pos - d_neg, 0), in double (float32: rounded once, at the end)
            v = margin + d_ap - d_neg
            rowloss[r] = v if (v > 0 or v != v) else 0.0
            if not want_grad:
                continue
            g = (go[r] if per_row_go else 1.0) * g_scale if v >= 0 else 0.0
            gar = &ga[r, 0]
            gpr = &gp[r, 0]
            gnr = &gn[r, 0]
            if kind == NORM_TWO and sa1 == 1 and sp1 == 1 and sn1 == 1:
                # the common case, in one pass: d/du ||u - v + eps|| = (u - v + eps) / ||.||
                c_ap = g / d_ap if d_ap != 0 else 0.0
                c_an = g * w_an / d_an if d_an != 0 else 0.0
                c_pn = g * w_pn / d_pn if d_pn != 0 else 0.0
                for k in range(D):
                    # differences in the input's precision (as torch), their combination in double
                    da = ar[k] - pr[k] + feps
                    dn = ar[k] - nr[k] + feps
                    dq = pr[k] - nr[k] + feps
                    gar[k] = <floating>(c_ap * da - c_an * dn)
                    gpr[k] = <floating>(-c_ap * da - c_pn * dq)
                    gnr[k] = <floating>(c_an * dn + c_pn * dq)
            else:
                norm_grad(ar, sa1, pr, sp1, D, feps, kind, p, d_ap, g, gar, gpr, False)
                for k in range(D):
                    gnr[k] = 0
                if w_an != 0:
                    norm_grad(ar, sa1, nr, sn1, D, feps, kind, p, d_an, -g * w_an, gar, gnr, True)
                if w_pn != 0:
                    norm_grad(pr, sp1, nr, sn1, D, feps, kind, p, d_pn, -g * w_pn, gpr, gnr, True)
    guard_raise(&guard)


def cosine_embedding(const floating[:, :] x1, const floating[:, :] x2, const int8_t[::1] sign,
                     double margin, double[::1] rowloss, floating[:, ::1] g1, floating[:, ::1] g2,
                     const floating[::1] go, double g_scale, int n_threads):
    """cosine_embedding rows. ``sign[n]``: 1 where target == 1, -1 where target == -1, 0 otherwise.

    ``cos = <x1, x2> / sqrt((|x1|^2 + eps)(|x2|^2 + eps))`` with eps = float32(1e-12) (torch's EPSILON: a zero vector gives
    cos = 0 and finite gradients); loss ``1 - cos`` (sign 1), ``max(0, cos - margin)`` (sign -1), 0
    otherwise. ``d cos / d x1 = x2 / denom - cos x1 / m1`` (m1 = |x1|^2 + eps), symmetrically for
    x2; the max passes the gradient where ``cos - margin >= 0`` (torch's clamp_min). ``g1``/``g2``:
    each may be None.
    """
    cdef Py_ssize_t rows = x1.shape[0], D = x1.shape[1], r, k
    cdef Py_ssize_t s10 = elem(x1.strides[0], sizeof(floating)), s11 = elem(x1.strides[1], sizeof(floating))
    cdef Py_ssize_t s20 = elem(x2.strides[0], sizeof(floating)), s21 = elem(x2.strides[1], sizeof(floating))
    cdef const floating *b1 = NULL
    cdef const floating *b2 = NULL
    cdef const floating *u
    cdef const floating *v
    cdef floating *gu
    cdef floating *gv
    cdef bint want1 = g1 is not None, want2 = g2 is not None
    cdef bint per_row_go = go is not None
    cdef double dot, m1, m2, denom, cosv, l, dl, fa, fb1, fb2
    cdef floating uk, vk
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(D)
    if rows == 0:
        return
    if D > 0:
        b1 = &x1[0, 0]
        b2 = &x2[0, 0]
    fl_guard_init(&guard)
    with nogil:
        for r in prange(rows, schedule='static', num_threads=n_threads):
            if fl_guard_tick(&guard, r, poll):
                continue
            u = b1 + r * s10
            v = b2 + r * s20
            if s11 == 1 and s21 == 1:
                dot3(u, 1, v, 1, D, &dot, &m1, &m2)
            else:
                dot3(u, s11, v, s21, D, &dot, &m1, &m2)
            m1 = m1 + COSINE_EPSILON
            m2 = m2 + COSINE_EPSILON
            denom = sqrt(m1 * m2)
            cosv = dot / denom
            l = 0
            dl = 0
            if sign[r] == 1:
                l = 1 - cosv
                dl = -1
            elif sign[r] == -1:
                l = cosv - margin
                if l >= 0:
                    dl = 1
                elif l == l:
                    l = 0
            rowloss[r] = l
            if not (want1 or want2):
                continue
            gu = &g1[r, 0] if want1 else NULL
            gv = &g2[r, 0] if want2 else NULL
            dl = dl * (go[r] if per_row_go else 1.0) * g_scale
            fa = dl / denom
            fb1 = dl * cosv / m1
            fb2 = dl * cosv / m2
            # in double: for nearly parallel vectors the two terms cancel (float32 would lose it all)
            for k in range(D):
                uk = u[k * s11]
                vk = v[k * s21]
                if want1:
                    gu[k] = <floating>(fa * vk - fb1 * uk)
                if want2:
                    gv[k] = <floating>(fa * uk - fb2 * vk)
    guard_raise(&guard)
