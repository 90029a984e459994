# Shared pieces of the compiled common-case entry points (margin.pyx, ctc.pyx): a call whose
# arguments are plain NumPy arrays is checked, allocated for, run and reduced here without the
# loss layer's Python machinery, with the general path's results bit for bit. A module that
# cimports this calls ``cnp.import_array()`` itself.
cimport numpy as cnp
from cpython.float cimport PyFloat_FromDouble
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF

cdef extern from *:
    """
    /* Python's sum() over floats: a plain left-to-right double sum before 3.12, compensated since */
    #define FL_PLAIN_FLOAT_SUM (PY_VERSION_HEX < 0x030C0000)
    """
    bint FL_PLAIN_FLOAT_SUM

# _losses._common._SMALL_SUM: up to this many partials, sum_partials adds them with Python's sum
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
    float64 ndarray, needed only for more than SMALL_SUM of them): Python's sum of the floats up to
    SMALL_SUM, NumPy's (pairwise) sum above."""
    cdef Py_ssize_t i
    cdef double s = 0.0
    if n > SMALL_SUM:
        return float(array.sum())
    if FL_PLAIN_FLOAT_SUM:
        for i in range(n):
            s += v[i]
        return s
    values = PyList_New(n)
    for i in range(n):
        item = PyFloat_FromDouble(v[i])
        Py_INCREF(item)
        PyList_SET_ITEM(values, i, item)
    return float(sum(values))


cdef inline object scalar_result(double value, int typenum):
    """A reduced loss: the 0-d array of ``typenum`` (float32 or float64) holding ``value``."""
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(0, NULL, typenum, 0)
    if typenum == cnp.NPY_FLOAT32:
        (<float*>cnp.PyArray_DATA(out))[0] = <float>value
    else:
        (<double*>cnp.PyArray_DATA(out))[0] = value
    return out
