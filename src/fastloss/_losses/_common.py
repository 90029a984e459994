"""Helpers every loss family shares: output finishing, grad_output handling, layout collapsing."""
import numpy as np

from .._threads import kernel_threads

__all__ = ["threads_for", "collapse_2d", "sum_to_shape", "reduced_grad_scale", "per_element_grad_output",
           "finish_loss", "finish_grad", "reduction_scale"]


# Below this much work (elements touched) a kernel runs on one thread: waking the OpenMP team
# costs microseconds, more than such a loop.
PARALLEL_MIN_WORK = 32768


def threads_for(work):
    """The team size for a kernel call that touches ``work`` elements."""
    return 1 if work < PARALLEL_MIN_WORK else kernel_threads()


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
    return float(go.reshape(())) * scale


def per_element_grad_output(grad, loss_shape, dtype, loss_name):
    """For reduction='none': ``(scalar, None)`` or ``(1.0, array of the loss's shape)``."""
    go = grad.grad_output
    if go is None:
        return 1.0, None
    if go.ndim == 0:
        return float(go), None
    if tuple(go.shape) != tuple(loss_shape):
        raise ValueError(f"{loss_name}: grad_output.shape={tuple(go.shape)} must equal the loss's shape {tuple(loss_shape)}")
    if go.dtype.kind != "f":
        raise TypeError(f"{loss_name}: grad_output must be floating point, got dtype {go.dtype}")
    return 1.0, go.astype(dtype, copy=False)


def finish_loss(value, dtype):
    """A reduced scalar (0-d) or a 'none' array in the result dtype."""
    return np.asarray(value, dtype=dtype) if np.ndim(value) == 0 else value.astype(dtype, copy=False)


def sum_to_shape(g, shape):
    """Sum a gradient computed in the broadcast shape back to an argument's own shape."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def finish_grad(g, original):
    """A gradient with the shape and dtype of the argument it belongs to."""
    return sum_to_shape(g, original.shape).astype(original.dtype, copy=False)


def collapse_2d(shape, arrays):
    """Views of ``arrays`` (all broadcast to ``shape``) as 2-D ``(rows, cols)`` strided arrays.

    Size-1 axes are dropped and adjacent axes merged wherever every array's strides allow, so a
    contiguous or simply broadcast operand costs no copy. When more than two axes remain (e.g.
    permuted 3-D views), the non-broadcast operands are made contiguous and, failing that, all
    of them: the only case where a copy is made.
    """
    for attempt in range(3):
        result = _try_collapse(shape, arrays)
        if result is not None:
            return result
        if attempt == 0:
            arrays = [a if 0 in a.strides else np.ascontiguousarray(a) for a in arrays]
        else:
            arrays = [np.ascontiguousarray(a) for a in arrays]
    raise AssertionError("unreachable: contiguous arrays always collapse")


def _try_collapse(shape, arrays):
    axes = [d for d, s in enumerate(shape) if s != 1]
    sizes, strides = [], [[] for _ in arrays]
    for d in axes:
        if sizes and all(st[-1] == a.strides[d] * shape[d] for st, a in zip(strides, arrays)):
            sizes[-1] *= shape[d]
            for st, a in zip(strides, arrays):
                st[-1] = a.strides[d]
        else:
            sizes.append(shape[d])
            for st, a in zip(strides, arrays):
                st.append(a.strides[d])
    if len(sizes) > 2:
        return None
    while len(sizes) < 2:
        sizes.insert(0, 1)
        for st in strides:
            st.insert(0, 0)
    return [np.lib.stride_tricks.as_strided(a, shape=tuple(sizes), strides=tuple(st), writeable=False)
            for a, st in zip(arrays, strides)]
