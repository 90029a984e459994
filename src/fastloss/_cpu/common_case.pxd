# Shared pieces of the compiled common-case entry points (classification.pyx, margin.pyx, ctc.pyx): a call whose
# arguments are plain NumPy arrays is checked, allocated for, run and reduced here without the
# loss layer's Python machinery, with the general path's results bit for bit. A module that
# cimports this calls ``cnp.import_array()`` itself.
cimport numpy as cnp

# _losses._common._SMALL_SUM: up to this many partials, sum_partials adds them in order
cdef enum:
    SMALL_SUM = 64


cdef inline bint plain_array(object a, int typenum, int ndim) noexcept:
    """``a`` an exact ndarray of ``ndim`` dimensions and type ``typenum``, C-contiguous, aligned,
    in native byte order: an array the kernels read through its data pointer as it is."""
    if not cnp.PyArray_CheckExact(a):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return (cnp.PyArray_NDIM(arr) == ndim and cnp.PyArray_TYPE(arr) == typenum
            and cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISBEHAVED_RO(arr))


cdef inline double partials_sum(const double* v, Py_ssize_t n, object array) except? -1.0:
    """``_common.sum_partials`` of the ``n`` partials ``v`` (``array``: the same values as a
    float64 ndarray, needed only for more than SMALL_SUM of them): added in order up to
    SMALL_SUM, NumPy's (pairwise) sum above."""
    cdef Py_ssize_t i
    cdef double s = 0.0
    if n > SMALL_SUM:
        return float(array.sum())
    for i in range(n):
        s += v[i]
    return s


cdef inline object scalar_result(double value, int typenum):
    """A reduced loss: the 0-d array of ``typenum`` (float32 or float64) holding ``value``."""
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(0, NULL, typenum, 0)
    if typenum == cnp.NPY_FLOAT32:
        (<float*>cnp.PyArray_DATA(out))[0] = <float>value
    else:
        (<double*>cnp.PyArray_DATA(out))[0] = value
    return out


cdef inline int team_size(object threads_for, Py_ssize_t work) except -1:
    """The team for a kernel call touching ``work`` elements, by the loss layer's policy
    (``_common.threads_for``, handed to every entry point's call; None: one thread)."""
    return 1 if threads_for is None else threads_for(work)


cdef inline int mean_or_sum(object reduction) except -2:
    """A reduced common call's reduction: 1 for 'mean', 0 for 'sum', -1 for anything else."""
    if reduction == "mean":
        return 1
    if reduction == "sum":
        return 0
    return -1


cdef inline int wants_only(object grad, str name) except -2:
    """For a loss whose common case differentiates ``name`` alone: 0 for a forward call (``grad``
    None), 1 when the GradRequest asks for that gradient with grad_output at its default, -1 for
    any other request."""
    if grad is None:
        return 0
    return 1 if grad.grad_output is None and grad.wants(name) else -1
