"""Helpers of the row-wise losses (margin and embedding families): each kernel writes one loss per
row (in double) and scales each gradient row by that row's upstream gradient."""
import numpy as np

from .._backend import array_module
from ._common import finish_loss, per_element_grad_output, reduced_grad_scale, reduction_scale, sum_partials


def row_grad_output(name, grad, reduction, rows, batch_shape, work_dtype):
    """(g_scale, per-row grad_output array or None) for a row kernel.

    'none': the caller's grad_output per row (or a scalar); reduced: grad_output times the
    reduction scale (1/rows for 'mean').
    """
    if reduction == "none":
        g_scale, go = per_element_grad_output(grad, batch_shape, work_dtype, name)
        return g_scale, (None if go is None else array_module(go).ascontiguousarray(go.reshape(rows)))
    return reduced_grad_scale(grad, reduction_scale(reduction, rows), name), None


def row_gradient_setup(name, grad, reduction, rows, batch_shape, work_dtype, grad_shape, wrt="input", xp=None):
    """``(g_scale, per-row grad_output or None, gradient buffer for ``wrt`` or None)`` for a row kernel
    (``xp``: the array module of the inputs, NumPy by default)."""
    if grad is None:
        return 1.0, None, None
    g_scale, go = row_grad_output(name, grad, reduction, rows, batch_shape, work_dtype)
    return g_scale, go, ((xp or np).empty(grad_shape, dtype=work_dtype) if grad.wants(wrt) else None)


def reduce_rows(rowloss, batch_shape, reduction, out_dtype):
    """The loss from the per-row values: shaped ``batch_shape`` ('none') or summed in a fixed order."""
    if reduction == "none":
        return finish_loss(rowloss.reshape(batch_shape), out_dtype)
    # a device array is summed on the device (no host round trip)
    return finish_loss(sum_partials(rowloss) * reduction_scale(reduction, rowloss.size), out_dtype)
