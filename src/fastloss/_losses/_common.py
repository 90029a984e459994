"""Helpers every loss family shares: output finishing, grad_output handling, layout collapsing."""
import functools

import numpy as np

from .._backend import array_module, gpu_emulated, kernels, to_host
from .._threads import kernel_threads

__all__ = ["plain_reduction", "common_case_entry",
           "threads_for", "collapse_2d", "empty_in_order", "memory_order", "sum_to_shape", "reduced_grad_scale",
           "per_element_grad_output", "finish_loss", "finish_grad", "reduction_scale", "sum_partials", "ones"]


# Below this much work (elements touched) a kernel runs on one thread: waking the OpenMP team
# costs microseconds, more than such a loop.
PARALLEL_MIN_WORK = 32768


def plain_reduction(size_average, reduce, reduction):
    """Whether a call asks for 'mean' or 'sum' without torch's legacy arguments: the reductions
    the common-case fast paths take (anything else goes through ``resolve_reduction``)."""
    return size_average is None and reduce is None and (reduction == "mean" or reduction == "sum")


def threads_for(work):
    """The team size for a kernel call that touches ``work`` elements."""
    return 1 if work < PARALLEL_MIN_WORK else kernel_threads()


_COMMON_CASES = {}


def common_case_entry(module_name):
    """The compiled common-case entry point (``common_case``) of the CPU kernel module
    ``module_name``, bound to the team-size policy (:func:`threads_for`, which reads its threshold
    and the thread count at every call); None while NumPy arrays go to the GPU kernels
    (``FASTLOSS_GPU=emulate``): the loss's general path then runs."""
    if gpu_emulated():
        return None
    entry = _COMMON_CASES.get(module_name)
    if entry is None:
        entry = _COMMON_CASES[module_name] = functools.partial(kernels(module_name).common_case, threads_for)
    return entry


def reduction_scale(reduction, count):
    """The factor the summed loss is multiplied by: 1 for 'sum', 1/count for 'mean' (nan if empty)."""
    if reduction == "sum":
        return 1.0
    return 1.0 / count if count else float("nan")


def reduced_grad_scale(grad, scale, loss_name):
    """``grad_output * scale`` for a reduced (scalar) loss; grad_output must be a scalar."""
    if grad.grad_output is None:
        return scale
    go = grad.grad_output
    if go.size != 1 or go.ndim > 1:
        raise ValueError(f"{loss_name}: grad_output must be a scalar for a reduced loss, got shape {tuple(go.shape)}")
    return float(to_host(go.reshape(()))) * scale  # a device grad_output: one read (a kernel scalar)


def per_element_grad_output(grad, loss_shape, dtype, loss_name):
    """For reduction='none': ``(scalar, None)`` or ``(1.0, array of the loss's shape)``."""
    go = grad.grad_output
    if go is None:
        return 1.0, None
    if go.ndim == 0:
        return float(to_host(go)), None
    if tuple(go.shape) != tuple(loss_shape):
        raise ValueError(f"{loss_name}: grad_output.shape={tuple(go.shape)} must equal the loss's shape "
                         f"{tuple(loss_shape)}")
    if go.dtype.kind != "f":
        raise TypeError(f"{loss_name}: grad_output must be floating point, got dtype {go.dtype}")
    return 1.0, go.astype(dtype, copy=False)


def finish_loss(value, dtype):
    """A reduced scalar (0-d) or a 'none' array in the result dtype."""
    if type(value) is float:
        return np.asarray(value, dtype=dtype)  # the reduced case, without np.ndim's dispatch
    xp = array_module(value)
    return xp.asarray(value, dtype=dtype) if xp.ndim(value) == 0 else value.astype(dtype, copy=False)


# Up to this many partial sums, Python's sum over ``tolist()`` beats NumPy's (whose reduction
# costs about a microsecond to start).
_SMALL_SUM = 64


def sum_partials(partial):
    """The sum of a 1-D float64 array of per-row (or per-block) losses, as a Python float, in a
    fixed order (independent of the thread count); a device array's sum stays on the device (0-d)."""
    if type(partial) is not np.ndarray:
        return partial.sum()
    if partial.size <= _SMALL_SUM:
        # added in order, as the kernels' compiled small-call entries add them (not sum(): from
        # Python 3.12 it compensates, which would make the two paths differ in the last bits)
        total = 0.0
        for value in partial.tolist():
            total += value
        return total
    return float(partial.sum())


_ONES = {}


def ones(n, dtype):
    """A read-only array of ``n`` ones of ``dtype`` (cached: an absent class weight, every call)."""
    key = (n, dtype)
    arr = _ONES.get(key)
    if arr is None:
        if len(_ONES) >= 16:
            _ONES.clear()
        arr = np.ones(n, dtype=dtype)
        arr.flags.writeable = False
        _ONES[key] = arr
    return arr


def sum_to_shape(g, shape):
    """Sum a gradient computed in the broadcast shape back to an argument's own shape (summed in
    float64, as every reduction of the kernels: the caller casts the result to the argument's dtype)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    return g.sum(axis=axes, keepdims=True, dtype=np.float64).reshape(shape) if axes else g.reshape(shape)


def finish_grad(g, original):
    """A gradient with the shape and dtype of the argument it belongs to."""
    return sum_to_shape(g, original.shape).astype(original.dtype, copy=False)


def collapse_2d(shape, arrays):
    """2-D ``(rows, cols)`` strided views of ``arrays`` (all broadcast to ``shape``), and the axis order.

    Returns ``(views, order)``. The axes are visited in memory order (:func:`memory_order`: the
    innermost last, as the first operand lays them out), size-1 axes dropped, and adjacent axes
    merged wherever every array's strides allow, so that operands of one layout (C order,
    Fortran order, a transposed or permuted view, reversed, broadcast) are read in place, in
    the order they lie in memory. Operands of different layouts are read in place too, one of
    them with a stride (cheaper than NumPy's copy of a transposed array) -- unless more than two
    axes remain: then the operands laid out otherwise are copied into the visiting order (one
    pass each, the only copies made). ``order`` lists every axis of ``shape``, outermost first:
    outputs the kernel writes row-major over ``(rows, cols)`` are allocated with
    :func:`empty_in_order`.
    """
    xp = array_module(arrays[0])
    if 0 in shape:
        return [xp.empty((0, 0), dtype=a.dtype) for a in arrays], tuple(range(len(shape)))
    order = memory_order(shape, arrays)
    sizes, strides = _merge(shape, arrays, order)
    if len(sizes) > 2:
        # copy the operands that split the axes: first those not read in two unit-stride runs,
        # then any not read in one, and a broadcast one (copying enlarges it) only as the last resort
        for groups, materialise in ((2, False), (1, False), (1, True)):
            arrays = [a if _in_order(a, shape, order, groups) or (_broadcast(a, shape) and not materialise)
                      else _copy_in_order(a, shape, order) for a in arrays]
            sizes, strides = _merge(shape, arrays, order)
            if len(sizes) <= 2:
                break
    while len(sizes) < 2:
        sizes.insert(0, 1)
        for st in strides:
            st.insert(0, 0)
    return [as_strided(a, tuple(sizes), tuple(st)) for a, st in zip(arrays, strides)], order


def as_strided(a, shape, strides):
    """A read-only strided view of ``a`` (CuPy's as_strided has no ``writeable`` argument)."""
    if type(a) is np.ndarray:
        return np.lib.stride_tricks.as_strided(a, shape=shape, strides=strides, writeable=False)
    return array_module(a).lib.stride_tricks.as_strided(a, shape, strides)


def memory_order(shape, arrays):
    """The axes of ``shape``, outermost first, ordered by the arrays' strides (torch's rule).

    Two axes are compared by the first array whose strides on them are both non-zero and
    different (in absolute value): the larger stride is the outer axis. Ties keep C order, so
    C-contiguous operands keep their order and a Fortran-order one is visited back to front.
    """
    ndim = len(shape)
    order = list(range(ndim))
    if ndim < 2:
        return tuple(order)
    # insertion sort: ndim is small, and the comparison is not a key function
    for i in range(1, ndim):
        j = i
        while j > 0 and _outer(arrays, order[j], order[j - 1]):
            order[j], order[j - 1] = order[j - 1], order[j]
            j -= 1
    return tuple(order)


def _outer(arrays, a, b):
    """Whether axis ``a`` lies outside axis ``b`` in memory (decided by the first array that tells)."""
    for arr in arrays:
        sa, sb = abs(arr.strides[a]), abs(arr.strides[b])
        if sa and sb and sa != sb:
            return sa > sb
    return False


def empty_in_order(shape, order, dtype, xp=np):
    """An uninitialised array of ``shape`` whose memory runs in ``order`` (outermost axis first)."""
    if order == tuple(range(len(shape))):
        return xp.empty(shape, dtype=dtype)
    buf = xp.empty([shape[d] for d in order], dtype=dtype)
    return buf.transpose(tuple(np.argsort(order).tolist()))


def _merge(shape, arrays, order):
    """Sizes and per-array strides of the axes of ``order`` (size 1 dropped), merged where all allow."""
    sizes, strides = [], [[] for _ in arrays]
    for d in order:
        n = shape[d]
        if n == 1:
            continue
        if sizes and all(st[-1] == a.strides[d] * n for st, a in zip(strides, arrays)):
            sizes[-1] *= n
            for st, a in zip(strides, arrays):
                st[-1] = a.strides[d]
        else:
            sizes.append(n)
            for st, a in zip(strides, arrays):
                st.append(a.strides[d])
    return sizes, strides


def _in_order(a, shape, order, groups):
    """Whether ``a`` alone merges into at most ``groups`` runs along ``order``, the inner one of unit stride."""
    sizes, (strides,) = _merge(shape, [a], order)
    return len(sizes) <= groups and (not strides or abs(strides[-1]) in (0, a.itemsize))


def _broadcast(a, shape):
    """Whether ``a`` repeats along some axis of ``shape`` (stride 0): copying it would enlarge it."""
    return any(st == 0 and n != 1 for st, n in zip(a.strides, shape))


def _copy_in_order(a, shape, order):
    """``a`` (a broadcast view of ``shape``) copied into an array whose memory runs in ``order``."""
    xp = array_module(a)
    out = empty_in_order(shape, order, a.dtype, xp)
    xp.copyto(out, a)
    return out
