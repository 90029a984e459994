# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Array-in, array-out access to the vectorisable exp/log/log1p of vecmath.h, for the accuracy
tests (tests/test_vecmath.py) and micro-benchmarks.

``exp``/``log``/``log1p`` (and ``exp_neg``/``log_pair``/``log1p_unit``) go through ``kernel_utils.f_exp``/``f_log``/``f_log1p``
(``f_exp_neg``/``f_log_unit`` with ``f_log1m_unit``/``f_log1p_unit``) - exactly what the
loss kernels call - in the loop shape the kernels use (a plain loop over a contiguous block), so
the compiler sees the same code to vectorise. ``libm_*`` run the same loop over the C library's
scalar functions, as the baseline to compare speed against.
"""
from libc.math cimport exp, expf, log, logf, log1p, log1pf
import numpy as np

from .kernel_utils cimport floating, f_exp, f_log, f_log1p, f_exp_neg, f_log_unit, f_log1m_unit, f_log1p_unit, f_log1p_unit_fast


cdef inline void _exp_loop(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = f_exp(x[i])


cdef inline void _log_loop(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = f_log(x[i])


cdef inline void _log1p_loop(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = f_log1p(x[i])


cdef inline void _exp_neg_loop(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = f_exp_neg(x[i])


cdef inline void _log_pair_loop(const floating* x, floating* y, floating* z, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(n):  # both halves on one loaded element, as binary_cross_entropy calls them
        v = x[i]
        y[i] = f_log_unit(v)
        z[i] = f_log1m_unit(v)


cdef inline void _log1p_unit_loop(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = f_log1p_unit(x[i])


cdef inline void _log1p_unit_fast_loop(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = f_log1p_unit_fast(x[i])


cdef inline void _libm_loop(const floating* x, floating* y, Py_ssize_t n, int which) noexcept nogil:
    cdef Py_ssize_t i
    if floating is float:
        if which == 0:
            for i in range(n):
                y[i] = expf(x[i])
        elif which == 1:
            for i in range(n):
                y[i] = logf(x[i])
        else:
            for i in range(n):
                y[i] = log1pf(x[i])
    else:
        if which == 0:
            for i in range(n):
                y[i] = exp(x[i])
        elif which == 1:
            for i in range(n):
                y[i] = log(x[i])
        else:
            for i in range(n):
                y[i] = log1p(x[i])



def exp_(const floating[::1] x, floating[::1] out):
    with nogil:
        _exp_loop(&x[0], &out[0], x.shape[0])


def log_(const floating[::1] x, floating[::1] out):
    with nogil:
        _log_loop(&x[0], &out[0], x.shape[0])


def log1p_(const floating[::1] x, floating[::1] out):
    with nogil:
        _log1p_loop(&x[0], &out[0], x.shape[0])


def exp_neg_(const floating[::1] x, floating[::1] out):
    with nogil:
        _exp_neg_loop(&x[0], &out[0], x.shape[0])


def log_pair_(const floating[::1] x, floating[::1] out, floating[::1] out2):
    with nogil:
        _log_pair_loop(&x[0], &out[0], &out2[0], x.shape[0])


def log1p_unit_(const floating[::1] x, floating[::1] out):
    with nogil:
        _log1p_unit_loop(&x[0], &out[0], x.shape[0])


def log1p_unit_fast_(const floating[::1] x, floating[::1] out):
    with nogil:
        _log1p_unit_fast_loop(&x[0], &out[0], x.shape[0])


def libm_(const floating[::1] x, floating[::1] out, int which):
    with nogil:
        _libm_loop(&x[0], &out[0], x.shape[0], which)


def _run(kernel, x, out, *extra):
    x = np.ascontiguousarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError("vecmath_check: float32 or float64 arrays only, got %s" % x.dtype)
    flat = x.reshape(-1)
    res = np.empty_like(flat) if out is None else out.reshape(-1)
    if flat.size:
        kernel(flat, res, *extra)
    return res.reshape(x.shape)


def vexp(x, out=None):
    """exp over an array with vecmath.h's fl_exp / fl_expf."""
    return _run(exp_, x, out)


def vlog(x, out=None):
    """log over an array with vecmath.h's fl_log / fl_logf."""
    return _run(log_, x, out)


def vlog1p(x, out=None):
    """log1p over an array with vecmath.h's fl_log1p / fl_log1pf."""
    return _run(log1p_, x, out)


def vexp_neg(x, out=None):
    """exp for x <= 0 (softplus's exp(-|z|)) with fl_exp_neg / fl_expf_neg."""
    return _run(exp_neg_, x, out)


def vlog_pair(x):
    """(log(x), log1p(-x)) for 0 <= x <= 1 (binary_cross_entropy's pair) with fl_log_unit and
    fl_log1m_unit (float32: fl_logf_unit, fl_log1mf_unit) in one loop."""
    x = np.ascontiguousarray(x)
    second = np.empty_like(x.reshape(-1))
    first = _run(log_pair_, x, None, second)
    return first, second.reshape(x.shape)


def vlog1p_unit(x, out=None):
    """log1p for 0 <= x <= 1 (softplus's log1p(exp(-|z|))) with fl_log1p_unit / fl_log1pf_unit."""
    return _run(log1p_unit_, x, out)


def vlog1p_unit_fast(x, out=None):
    """log1p for 0 <= x <= 1 with f_log1p_unit_fast (float32: fl_log1pf_unit_fast; float64: fl_log1p_unit)."""
    return _run(log1p_unit_fast_, x, out)


_LIBM = {"exp": 0, "log": 1, "log1p": 2}


def libm(name, x, out=None):
    """The same loop over the C library's scalar exp/log/log1p (expf/logf/log1pf for float32)."""
    return _run(libm_, x, out, _LIBM[name])
