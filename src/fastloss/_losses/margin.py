"""The class-margin losses: multi_margin_loss and multilabel_margin_loss.

Both take scores ``(N, C)`` (or unbatched ``(C,)``, or a 0-d score as torch does) and class-index
targets; a fused row kernel in ``_cpu/margin.pyx`` computes each row's loss and gradient. This
module states the shape rules, checks indices and reduces.
"""
import numbers

import numpy as np

from .. import _backend
from .._autograd import loss_function
from .._reduction import resolve_reduction
from .._validation import (
    as_array,
    as_float,
    cast,
    check_class_weight_dtype,
    check_floating,
    check_index_range,
    compute_dtype,
    device_index_error,
    index_array,
)
from ._common import common_case_entry, threads_for
from ._rows import reduce_rows, row_gradient_setup


def _scores_2d(input, name):
    """The float scores as a C-contiguous ``(N, C)`` compute-dtype array, with the original array.

    torch accepts a 0-d score (one sample, one class), ``(C,)`` and ``(N, C)`` with ``C > 0``.
    """
    original = check_floating(as_array(input, "input"), "input")
    if original.ndim > 2 or (original.ndim >= 1 and original.shape[-1] == 0):
        raise ValueError(f"{name}: input must be a non-empty vector or a matrix (N, C) with C > 0, "
                         f"got shape {tuple(original.shape)}")
    x = cast(original, compute_dtype(original.dtype))
    x2 = x.reshape(-1, x.shape[-1] if x.ndim else 1)
    return original, _backend.array_module(x2).ascontiguousarray(x2)


def _finish_rows(rowloss, batch_shape, reduction, grad, out_dtype, gx, original):
    """Reduce the per-row losses and shape the gradient like the input."""
    loss = reduce_rows(rowloss, batch_shape, reduction, out_dtype)
    if grad is None:
        return loss
    grads = {}
    if gx is not None:
        grads["input"] = gx.reshape(original.shape).astype(original.dtype, copy=False)
    return loss, grads


def _fast_rows(multi, input, target, reduction, grad, p=1, margin=1.0):
    """multi_margin_loss without weight (``multi``) or multilabel_margin_loss in the common case,
    computed by the kernel module's compiled ``common_case`` (its docstring: plain NumPy arrays,
    indices in range, 'mean'/'sum', no grad_output), whose result equals the general path's bit
    for bit. The caller has checked the legacy reduction arguments (and the weight). Returns None
    for any other call: the general path checks and computes it."""
    entry = common_case_entry("margin")
    return None if entry is None else entry(multi, input, target, reduction, grad, p, margin)


@loss_function(differentiable=("input",))
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean", *, _grad=None):
    r"""Multi-class hinge loss: :math:`\ell_n = \frac{1}{C}\sum_{i \ne y_n} w_{y_n}\max(0, m - x_{n,y_n} + x_{n,i})^p`.

    Mirrors ``torch.nn.functional.multi_margin_loss``: ``p`` is 1 or 2 (anything else: ValueError),
    ``weight`` (C,) multiplies each term *after* the power (torch's kernel, not its docs), 'mean'
    divides the sum of the N row losses by N. Input ``(N, C)``, unbatched ``(C,)`` (target 0-d or
    of one element) or 0-d; target in ``[0, C)`` (else IndexError).

    Gradient, for each active term (:math:`z = m - x_y + x_i > 0`): :math:`\partial/\partial x_i
    = w_y\,p\,z^{p-1}/C`, and :math:`\partial/\partial x_y` is minus the sum of those.
    """
    if weight is None and size_average is None and reduce is None:
        fast = _fast_rows(True, input, target, reduction, _grad, p, margin)
        if fast is not None:
            return fast
    name = "multi_margin_loss"
    reduction = resolve_reduction(reduction, size_average, reduce)
    if type(p) is not int and not isinstance(p, numbers.Real):  # a complex p equal to 1 or 2 included
        raise TypeError(f"{name}: p must be a real number (1 or 2), got {type(p).__name__} {p!r}")
    if p not in (1, 2):
        raise ValueError(f"{name}: only p == 1 and p == 2 are supported, got p={p!r}")
    p = int(p)
    margin = as_float(margin, "margin")
    original, x = _scores_2d(input, name)
    rows, C = x.shape
    y = index_array(target, "target")
    if original.ndim == 2:
        if y.ndim != 1 or y.shape[0] != rows:
            raise ValueError(f"{name}: target must be 1-D with size equal to the batch size {rows}, "
                             f"got shape {tuple(y.shape)}")
        batch_shape = (rows,)
    else:
        if y.ndim > 1 or y.size != 1:
            raise ValueError(f"{name}: an unbatched input needs a 0-d or one-element target, "
                             f"got shape {tuple(y.shape)}")
        batch_shape = y.shape
    xp = _backend.array_module(x)
    _backend.check_same_backend({"input": x, "target": y})
    y = xp.ascontiguousarray(y.reshape(rows))
    if xp is np:  # a device target is checked by the kernel
        check_index_range(y, "target", 0, C)
    w = None
    if weight is not None:
        w = as_array(weight, "weight")
        check_class_weight_dtype(w, original, name)
        _backend.check_same_backend({"input": x, "weight": w})
        if w.ndim != 1 or w.shape[0] != C:
            raise ValueError(f"{name}: weight must be 1-D with C={C} elements, got shape {tuple(w.shape)}")
        w = xp.ascontiguousarray(cast(w, x.dtype))
    out_dtype = original.dtype
    g_scale, go, gx = row_gradient_setup(name, _grad, reduction, rows, batch_shape, x.dtype, (rows, C), xp=xp)
    rowloss = xp.empty(rows, dtype=np.float64)
    try:
        _backend.kernels("margin", x).multi_margin(x, y, w, margin, p, rowloss, gx, go, g_scale,
                                                   threads_for(rows * C))
    except IndexError as bad:  # a device target out of range (fastloss._gpu.BadIndex)
        raise device_index_error(bad, y, "target", 0, C) from None
    return _finish_rows(rowloss, batch_shape, reduction, _grad, out_dtype, gx, original)


@loss_function(differentiable=("input",))
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean", *, _grad=None):
    r"""Multi-label hinge loss:
    :math:`\ell_n = \frac{1}{C}\sum_{j \in J_n}\sum_{i \notin J_n}\max(0, 1 - x_{n,j} + x_{n,i})`.

    Mirrors ``torch.nn.functional.multilabel_margin_loss``: ``target`` has the input's shape; the
    target classes ``J_n`` are the entries before the first -1 (a repeated class counts once more
    in the outer sum, as torch). Every target entry, also after the first -1, must lie in
    ``[-1, C)`` (else IndexError, as torch checks). 'mean' divides by N.

    Gradient: :math:`\partial/\partial x_i = |\{j : 1 - x_j + x_i > 0\}|/C` for a non-target
    :math:`i`, :math:`\partial/\partial x_j = -|\{i : 1 - x_j + x_i > 0\}|/C` for each target
    occurrence. Computed in O(C log C) per row (torch: O(|J| C)).
    """
    if size_average is None and reduce is None:
        fast = _fast_rows(False, input, target, reduction, _grad)
        if fast is not None:
            return fast
    name = "multilabel_margin_loss"
    reduction = resolve_reduction(reduction, size_average, reduce)
    original, x = _scores_2d(input, name)
    rows, C = x.shape
    y = index_array(target, "target")
    if y.shape != original.shape:
        raise ValueError(f"{name}: target.shape={tuple(y.shape)} must equal input.shape={tuple(original.shape)}")
    xp = _backend.array_module(x)
    _backend.check_same_backend({"input": x, "target": y})
    y = xp.ascontiguousarray(y.reshape(rows, C))
    if xp is np:  # a device target is checked by the kernel
        check_index_range(y, "target", -1, C)
    batch_shape = original.shape[:-1] if original.ndim == 2 else ()
    out_dtype = original.dtype
    g_scale, go, gx = row_gradient_setup(name, _grad, reduction, rows, batch_shape, x.dtype, (rows, C), xp=xp)
    rowloss = xp.empty(rows, dtype=np.float64)
    try:
        _backend.kernels("margin", x).multilabel_margin(x, y, rowloss, gx, go, g_scale, threads_for(rows * C * 8))
    except IndexError as bad:  # a device target out of range (fastloss._gpu.BadIndex)
        raise device_index_error(bad, y, "target", -1, C) from None
    return _finish_rows(rowloss, batch_shape, reduction, _grad, out_dtype, gx, original)
