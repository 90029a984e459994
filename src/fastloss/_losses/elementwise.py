"""The elementwise losses: semantics, then one fused kernel call through :func:`run_elementwise`.

Every loss here is ``reduce(f(input, target, ...))`` with a per-element formula ``f`` that lives
in ``_cpu/elementwise.pyx.tp``; this module states each loss's arguments, checks and reduction.
"""
import math

import numpy as np

from .. import _backend
from .._autograd import loss_function
from .._reduction import REDUCTIONS, resolve_reduction
from .._validation import as_bool, as_float, broadcast_shape, check_same_shape, float_operands, warn_if_sizes_differ
from ._common import (
    collapse_2d,
    common_case_entry,
    empty_in_order,
    finish_grad,
    per_element_grad_output,
    reduced_grad_scale,
    reduction_scale,
    threads_for,
)


def run_elementwise(loss_name, kernel_name, operands, originals, grad_names, reduction, grad, out_dtype,
                    params=(), scale=None, check=None):
    """Run one fused elementwise kernel and finish its results.

    operands:   ``[(name, array), ...]`` in the kernel's argument order, cast to the compute dtype
    originals:  ``{name: array}`` as the caller gave them (gradient shapes and dtypes)
    grad_names: the public names of the kernel's gradient outputs, in its order
    reduction:  'none', or a reduced mode whose ``scale`` multiplies the sum (default: 'sum' -> 1,
                'mean' -> 1/numel); a ``scale`` given with 'none' multiplies each element (kl_div's
                legacy 'batchmean' quirk)
    grad:       a GradRequest or None (forward only)
    params:     the kernel's scalar hyper-parameters, in its order
    check:      for kernels that check their elements: the ValueError message when some fail, or a
                function of the operands returning it (called only then)

    Fast path: operands of one shape, all C-contiguous (the common case), are handed to the
    kernel as one row, without broadcasting or collapsing views.
    """
    arrays = [a for _, a in operands]
    xp = _backend.array_module(arrays[0])  # NumPy, or CuPy for device arrays (everything stays there)
    shape = arrays[0].shape
    fast = True
    for a in arrays:
        if a.shape != shape or not a.flags.c_contiguous:
            fast = False
            break
    if not fast:
        shape = broadcast_shape([a.shape for a in arrays], [n for n, _ in operands])
    numel = math.prod(shape)
    if reduction != "none" and scale is None:
        scale = reduction_scale(reduction, numel)
    scale_none = reduction == "none" and scale is not None

    go_array, g_scale = None, 1.0
    if grad is not None:
        if reduction == "none":
            g_scale, go_array = per_element_grad_output(grad, shape, arrays[0].dtype, loss_name)
            if go_array is not None and not go_array.flags.c_contiguous:
                fast = False
            if scale_none:
                g_scale *= scale
        else:
            g_scale = reduced_grad_scale(grad, scale, loss_name)

    order = None  # the outputs' axis order: C order on the fast path
    if fast:
        rows, cols = 1, numel
        strided = []
        for a in arrays:
            strided += (a, 0, 1)
        go_strided = (go_array, 0, 1)
    else:
        views, order = collapse_2d(shape, [xp.broadcast_to(a, shape) for a in arrays]
                                   + ([xp.broadcast_to(go_array, shape)] if go_array is not None else []))
        rows, cols = views[0].shape
        item = arrays[0].itemsize
        strided = []
        for v in views:
            strided += (v, v.strides[0] // item, v.strides[1] // item)
        go_strided = tuple(strided[-3:]) if go_array is not None else (None, 0, 0)
        if go_array is not None:
            del strided[-3:]

    work = arrays[0].dtype
    # outputs are written row-major over (rows, cols): laid out in the operands' memory order
    alloc = xp.empty if order is None else (lambda shp, dtype: empty_in_order(shp, order, dtype, xp))
    out = alloc(shape, dtype=work) if reduction == "none" else None
    # The kernels compute a prefix of their gradients: the shortest one covering what is wanted.
    n_grads = 0
    if grad is not None:
        for i, n in enumerate(grad_names):
            if grad.wants(n) and originals.get(n) is not None and originals[n].dtype.kind == "f":
                n_grads = i + 1
    gouts = [alloc(shape, dtype=work) if i < n_grads else None for i in range(len(grad_names))]

    kernel = xp is np and _backend.cpu_kernel("elementwise", kernel_name, work)
    if not kernel:  # device arrays, or the GPU kernels emulated
        kernel = getattr(_backend.kernels("elementwise", *arrays), kernel_name)
    total, n_bad = kernel(rows, cols, *strided, out, *gouts, *go_strided, g_scale,
                          threads_for(numel), *params)
    if n_bad:
        raise ValueError(f"{loss_name}: {check if isinstance(check, str) else check(dict(operands))}")

    if out is None:
        loss = xp.asarray(total * scale, dtype=out_dtype)  # 0-d (total: a 0-d device array on the GPU)
    else:
        if scale_none:
            out *= scale
        loss = out if out.dtype == out_dtype else out.astype(out_dtype)
    if grad is None:
        return loss
    grads = {}
    for n, g in zip(grad_names, gouts):
        if g is not None and grad.wants(n) and originals[n].dtype.kind == "f":
            if g.shape != originals[n].shape:
                g = g.astype(np.float64)  # a broadcast operand's gradient is a sum: accumulate in double
            grads[n] = finish_grad(g, originals[n])
    return loss, grads


# ------------------------------------------------------------------------------------------------
# The common case, compiled (issue 11): each loss below first offers its call to ``_common_case``
# when its own options are at their defaults; the kernel module's ``common_case`` checks the arrays
# in C and runs the kernel's loop, or answers None and the general path (run_elementwise) runs.

def _common_case(kernel, reduction, grad, names, a, b, c=None, p0=None, p1=None):
    """The loss (``(loss, grads)`` with ``grad``) of ``kernel`` in the common case, else None.

    The common case: NumPy arrays ``a, b[, c]`` (the kernel's operands, in its order) of one shape,
    all C-contiguous, of one dtype, float32 or float64; ``reduction`` 'mean' or 'sum' (or kl_div's
    'batchmean'); ``grad`` None or without grad_output; the scalar parameters ``p0[, p1]`` Python
    floats (or ints). The caller has checked that its other options are at their defaults. The
    result equals :func:`run_elementwise`'s bit for bit (the same loop, thread count and sums).
    None for any other call, and for one whose elements fail the kernel's check: the general path
    then checks it and raises with its own message.
    """
    entry = common_case_entry("elementwise")
    if entry is None:
        return None
    return entry(kernel, reduction, grad, names, a, b, c, p0, p1)


def _prologue(named, reduction, size_average, reduce, allow_integer=("target",), warn=False,
              allowed=REDUCTIONS, promote=None, zero_dim_promotes=False):
    """The shared start of every loss here: reduction, coercion, torch's size warning.

    ``allow_integer``: the operands torch accepts as integer or bool arrays; ``promote``: those
    whose dtypes set the result (see :func:`~fastloss._validation.float_operands`).
    """
    reduction = resolve_reduction(reduction, size_average, reduce, allowed)
    arrays, originals, out_dtype, _ = float_operands(named, allow_integer, promote, zero_dim_promotes)
    if warn:
        warn_if_sizes_differ(arrays["input"], arrays["target"], stacklevel=5)
    return reduction, arrays, originals, out_dtype


def _refuse_bool(arr, name, loss_name):
    """Arguments torch negates or subtracts, which it refuses as bool."""
    if arr.dtype == np.bool_:
        raise TypeError(f"{loss_name}: {name} must be a numeric array, not bool (torch refuses '-' on bool tensors)")


def _check_broadcasts_into(arr, name, shape, shape_name):
    """``arr`` broadcasts to ``shape`` without enlarging it (torch multiplies it in place)."""
    if arr is not None and broadcast_shape([shape, arr.shape], [shape_name, name]) != tuple(shape):
        raise ValueError(f"{name}.shape={tuple(arr.shape)} does not broadcast to {shape_name}.shape={tuple(shape)}")


def _pair(arrays):
    return [("input", arrays["input"]), ("target", arrays["target"])]


_PAIR = ("input", "target")
_INPUT = ("input",)
_RANKING = ("input1", "input2", "target")
_GAUSSIAN = ("input", "target", "var")

# allow_integer for losses that take integer and bool arrays for every operand (torch promotes them)
_ANY_NUMERIC = ("input", "target", "weight", "input1", "input2")


def _weighted_same_shape(name, kernel, arrays, originals, reduction, grad, out_dtype, weighted_mean, params=()):
    """torch 2.x's optional ``weight`` of l1/mse/huber: same size as the input, multiplies each element.

    ``weighted_mean``: 'mean' divides by sum(weight) (l1, mse) or by numel (huber). torch
    differentiates the weight: the kernel gives ``l_n`` (unweighted) times the gradient scale;
    for the sum(weight)-normalised mean L = sum(w l) / sum(w), dL/dw_n = (l_n - L) / sum(w).
    """
    weight = arrays["weight"]
    if weight is None:
        return run_elementwise(name, kernel, _pair(arrays), originals, _PAIR, reduction, grad, out_dtype, params)
    check_same_shape(arrays["input"], weight, "input", "weight", name,
                     "torch: weights and input must have the same size")
    scale = None
    if reduction == "mean" and weighted_mean:
        # the scale is a kernel scalar: a device weight's sum is read once (documented in the README)
        total_weight = float(_backend.to_host(weight.sum(dtype=np.float64)))
        scale = 1.0 / total_weight if total_weight != 0 else float("inf")
    result = run_elementwise(name, kernel + "_w", _pair(arrays) + [("weight", weight)], originals,
                             ("input", "target", "weight"), reduction, grad, out_dtype, params, scale=scale)
    if scale is not None and grad is not None and "weight" in result[1]:
        loss, grads = result
        g_scale = reduced_grad_scale(grad, scale, name)
        # loss * g_scale in double, rounded once to the gradient's dtype (no host read of the loss)
        grads["weight"] = (grads["weight"] - (loss.astype(np.float64) * g_scale).astype(grads["weight"].dtype)
                           ).astype(grads["weight"].dtype, copy=False)
    return result


@loss_function(differentiable=("input", "target", "weight"))
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None, *, _grad=None):
    r"""Mean squared error: :math:`\ell_n = w_n (x_n - y_n)^2`.

    Mirrors ``torch.nn.functional.mse_loss``. ``target`` broadcasts against ``input`` (with
    torch's warning when their sizes differ). ``weight`` (same size as input) multiplies each
    element; with it, ``'mean'`` is ``sum(w * l) / sum(w)``.

    Gradient: :math:`\partial\ell/\partial x = 2 w (x - y)`, :math:`\partial\ell/\partial y = -2 w (x - y)`;
    torch differentiates the weight too: :math:`(x - y)^2` (minus the mean, over sum(w), for 'mean').
    """
    if weight is None and size_average is None and reduce is None:
        fast = _common_case("mse", reduction, _grad, _PAIR, input, target)
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target, "weight": weight}, reduction, size_average, reduce, _ANY_NUMERIC,
        warn=True, zero_dim_promotes=True)
    return _weighted_same_shape("mse_loss", "mse", arrays, originals, reduction, _grad, out_dtype, weighted_mean=True)


@loss_function(differentiable=("input", "target", "weight"))
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None, *, _grad=None):
    r"""Mean absolute error: :math:`\ell_n = w_n |x_n - y_n|`.

    Mirrors ``torch.nn.functional.l1_loss``; ``weight`` as in :func:`mse_loss`.

    Gradient: :math:`\partial\ell/\partial x = w\,\mathrm{sign}(x - y)` (0 at 0),
    :math:`\partial\ell/\partial y = -w\,\mathrm{sign}(x - y)`; weight as in :func:`mse_loss`.
    """
    if weight is None and size_average is None and reduce is None:
        fast = _common_case("l1", reduction, _grad, _PAIR, input, target)
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target, "weight": weight}, reduction, size_average, reduce, _ANY_NUMERIC,
        warn=True, zero_dim_promotes=True)
    return _weighted_same_shape("l1_loss", "l1", arrays, originals, reduction, _grad, out_dtype, weighted_mean=True)


@loss_function(differentiable=("input", "target"))
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0, *, _grad=None):
    r"""Smooth L1: :math:`\ell = d^2 / (2\beta)` where :math:`|d| < \beta`, else :math:`|d| - \beta/2`,
    :math:`d = x - y`.

    Mirrors ``torch.nn.functional.smooth_l1_loss``: ``beta = 0`` is exactly :func:`l1_loss`;
    a negative ``beta`` is refused. ``target`` broadcasts (with torch's warning).

    Gradient: :math:`\partial\ell/\partial x = d/\beta` where :math:`|d| < \beta`, else
    :math:`\mathrm{sign}(d)`; :math:`\partial\ell/\partial y = -\partial\ell/\partial x`.
    """
    if size_average is None and reduce is None and type(beta) is float and beta > 0.0:
        fast = _common_case("smooth_l1", reduction, _grad, _PAIR, input, target, None, beta)
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target}, reduction, size_average, reduce, _ANY_NUMERIC, warn=True,
        zero_dim_promotes=True)
    beta = as_float(beta, "beta", minimum=0.0)
    if beta == 0.0:
        return run_elementwise("smooth_l1_loss", "l1", _pair(arrays), originals, _PAIR, reduction, _grad, out_dtype)
    return run_elementwise("smooth_l1_loss", "smooth_l1", _pair(arrays), originals, _PAIR, reduction, _grad,
                           out_dtype, (beta,))


@loss_function(differentiable=("input", "target", "weight"))
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None, *, _grad=None):
    r"""Huber: :math:`\ell = w\,d^2/2` where :math:`|d| < \delta`, else :math:`w\,\delta(|d| - \delta/2)`.

    Mirrors ``torch.nn.functional.huber_loss`` (torch 2.x): ``delta`` must be positive; ``target``
    broadcasts (with torch's warning); ``weight`` has the input's size and multiplies each
    element. Unlike mse/l1, the weighted ``'mean'`` is ``mean(w * l)`` (torch divides by numel).

    Gradient: :math:`\partial\ell/\partial x = w\,d` where :math:`|d| < \delta`, else
    :math:`w\,\delta\,\mathrm{sign}(d)`; :math:`\partial\ell/\partial y = -\partial\ell/\partial x`;
    :math:`\partial\ell/\partial w` is the unweighted loss (torch differentiates the weight here).
    """
    if weight is None and type(delta) is float and delta > 0.0:
        fast = _common_case("huber", reduction, _grad, _PAIR, input, target, None, delta)
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target, "weight": weight}, reduction, None, None, ("target", "weight"),
        warn=True, promote=("input", "weight"))
    delta = as_float(delta, "delta", minimum=0.0, strict_minimum=True)
    return _weighted_same_shape("huber_loss", "huber", arrays, originals, reduction, _grad, out_dtype,
                                weighted_mean=False, params=(delta,))


@loss_function(differentiable=("input",))
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean", *, _grad=None):
    r"""Two-class logistic loss: :math:`\ell = \log(1 + e^{-y x})`.

    Mirrors ``torch.nn.functional.soft_margin_loss``; ``target`` broadcasts (torch does not warn
    here). Computed as a stable softplus, so it stays finite where torch's direct
    ``log1p(exp(-y x))`` overflows to inf. torch does not differentiate ``target``.

    Gradient: :math:`\partial\ell/\partial x = -y\,\sigma(-y x)`.
    """
    if size_average is None and reduce is None:
        fast = _common_case("soft_margin", reduction, _grad, _INPUT, input, target)
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target}, reduction, size_average, reduce, promote=("input",))
    return run_elementwise("soft_margin_loss", "soft_margin", _pair(arrays), originals, ("input",), reduction,
                           _grad, out_dtype)


@loss_function(differentiable=("input",))
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean", *, _grad=None):
    r"""Hinge embedding: :math:`\ell = x` for :math:`y = 1`, :math:`\max(0, \Delta - x)` for :math:`y = -1`.

    Mirrors ``torch.nn.functional.hinge_embedding_loss``, which computes
    ``where(y != 1, max(0, margin - x), 0) + where(y != -1, x, 0)``: a target that is neither
    1 nor -1 gets both terms. ``target`` broadcasts; torch does not differentiate it.

    Gradient: :math:`\partial\ell/\partial x = [y \ne -1] - [y \ne 1][\Delta - x \ge 0]`.
    """
    if size_average is None and reduce is None:
        fast = _common_case("hinge_embedding", reduction, _grad, _INPUT, input, target, None, margin)
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target}, reduction, size_average, reduce, promote=("input",))
    margin = as_float(margin, "margin")
    return run_elementwise("hinge_embedding_loss", "hinge_embedding", _pair(arrays), originals, ("input",),
                           reduction, _grad, out_dtype, (margin,))


@loss_function(differentiable=("input1", "input2", "target"))
def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean", *,
                        _grad=None):
    r"""Margin ranking: :math:`\ell = \max(0, -y (x_1 - x_2) + \Delta)`.

    Mirrors ``torch.nn.functional.margin_ranking_loss``: the three arrays must have the same
    number of dimensions and broadcast together; a bool target is refused.

    Gradient (where :math:`-y(x_1 - x_2) + \Delta \ge 0`, else 0): :math:`\partial/\partial x_1 = -y`,
    :math:`\partial/\partial x_2 = y`, :math:`\partial/\partial y = -(x_1 - x_2)`.
    """
    if size_average is None and reduce is None:
        fast = _common_case("margin_ranking", reduction, _grad, _RANKING, input1, input2, target, margin)
        if fast is not None:
            return fast
    named = {"input1": input1, "input2": input2, "target": target}
    reduction, arrays, originals, out_dtype = _prologue(named, reduction, size_average, reduce, tuple(named))
    _refuse_bool(originals["target"], "target", "margin_ranking_loss")
    x1, x2, y = arrays["input1"], arrays["input2"], arrays["target"]
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(f"margin_ranking_loss: input1, input2 and target must have the same number of dimensions, "
                         f"got input1.shape={x1.shape}, input2.shape={x2.shape}, target.shape={y.shape}")
    margin = as_float(margin, "margin")
    return run_elementwise("margin_ranking_loss", "margin_ranking", [(n, arrays[n]) for n in named], originals,
                           tuple(named), reduction, _grad, out_dtype, (margin,))


@loss_function(differentiable=("input", "target"))
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean", *,
                         _grad=None):
    r"""Binary cross entropy on probabilities: :math:`\ell = -w\,[y \log x + (1 - y) \log(1 - x)]`.

    Mirrors ``torch.nn.functional.binary_cross_entropy``: each log is clamped at -100, so inputs
    of exactly 0 and 1 give a finite loss; inputs outside [0, 1] (and NaN) are refused; target
    must have the input's shape and be floating; ``weight`` broadcasts to it. torch does not
    differentiate the weight.

    Gradient: :math:`\partial\ell/\partial x = w (x - y) / \max(x (1 - x), 10^{-12})`,
    :math:`\partial\ell/\partial y = w\,[\log(1 - x) - \log x]` (unclamped, as torch).
    """
    if weight is None and size_average is None and reduce is None:
        fast = _common_case("bce", reduction, _grad, _PAIR, input, target)  # None for entries outside [0, 1]
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target, "weight": weight}, reduction, size_average, reduce, ("weight",),
        promote=("input", "target"))
    x, w = arrays["input"], arrays["weight"]
    check_same_shape(x, arrays["target"], "input", "target", "binary_cross_entropy",
                     "torch refuses a target of another size")
    _check_broadcasts_into(w, "weight", x.shape, "target")
    operands = _pair(arrays) + ([("weight", w)] if w is not None else [])
    return run_elementwise("binary_cross_entropy", "bce" if w is None else "bce_w", operands, originals, _PAIR,
                           reduction, _grad, out_dtype, check=_bce_range_message)


def _bce_range_message(operands):
    """torch's message for the first of input and target (in that order) with an entry outside [0, 1] or NaN."""
    x = operands["input"]
    bad_input = not _backend.to_host(((x >= 0) & (x <= 1)).all())  # the error path: one read
    return f"all elements of {'input' if bad_input else 'target'} should be between 0 and 1"


@loss_function(differentiable=("input", "target"))
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None, *, _grad=None):
    r"""Binary cross entropy on logits: :math:`\ell = w\,[(1 - y)\,x - (1 + (p - 1)\,y) \log\sigma(x)]`.

    Mirrors ``torch.nn.functional.binary_cross_entropy_with_logits``, with the stable
    :math:`\log\sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})`. ``target`` must have the input's
    shape and be floating; ``weight`` and ``pos_weight`` (p) broadcast to the input's shape
    (pos_weight along the trailing class dimension). torch does not differentiate either weight.

    Gradient: :math:`\partial\ell/\partial x = w\,[(1 - y) - (1 + (p - 1) y)\,\sigma(-x)]`,
    :math:`\partial\ell/\partial y = -w\,[x + (p - 1) \log\sigma(x)]`.
    """
    if weight is None and pos_weight is None and size_average is None and reduce is None:
        fast = _common_case("bce_logits", reduction, _grad, _PAIR, input, target)
        if fast is not None:
            return fast
    named = {"input": input, "target": target, "weight": weight, "pos_weight": pos_weight}
    # torch computes in the target's dtype: the input and the weights do not promote it
    reduction, arrays, originals, out_dtype = _prologue(named, reduction, size_average, reduce,
                                                        ("weight", "pos_weight"), promote=("target",))
    x = arrays["input"]
    check_same_shape(x, arrays["target"], "input", "target", "binary_cross_entropy_with_logits")
    kernel = "bce_logits"
    operands = _pair(arrays)
    for name, suffix in (("weight", "_w"), ("pos_weight", "_pw")):
        if arrays[name] is not None:
            _check_broadcasts_into(arrays[name], name, x.shape, "input")
            operands.append((name, arrays[name]))
            kernel += suffix
    return run_elementwise("binary_cross_entropy_with_logits", kernel, operands, originals, _PAIR, reduction, _grad,
                           out_dtype)


@loss_function(differentiable=("input", "target"))
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False, *, _grad=None):
    r"""Kullback-Leibler divergence with log-probability input: :math:`\ell = y (\log y - x)`, 0 where y = 0.

    Mirrors ``torch.nn.functional.kl_div``: with ``log_target`` the target holds log-probabilities
    and :math:`\ell = e^{y} (y - x)`. ``'batchmean'`` divides the sum by ``input.shape[0]`` (by 1
    for a 0-d input); ``'mean'`` divides by the number of elements and warns, as torch does.
    Integer arrays are refused. The legacy ``size_average``/``reduce`` override ``reduction`` as
    in torch, whose ``'batchmean'`` then still divides their result by ``input.shape[0]``.

    Gradient: :math:`\partial\ell/\partial x = -y` (:math:`-e^{y}`); :math:`\partial\ell/\partial y =
    \log y + 1 - x` (:math:`e^{y}(y - x + 1)`). torch's autograd through ``xlogy`` makes the
    target gradient NaN where y = 0; this mirrors it.
    """
    legacy = size_average is not None or reduce is not None
    batchmean = isinstance(reduction, str) and reduction == "batchmean"
    if not legacy and reduction == "mean":
        import warnings

        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=3)
    if not legacy and type(log_target) is bool:
        fast = _common_case("kl_div_log" if log_target else "kl_div", reduction, _grad, _PAIR, input, target)
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target}, "sum" if batchmean else reduction, size_average, reduce,
        allow_integer=(), allowed=REDUCTIONS + ("batchmean",))
    log_target = as_bool(log_target, "log_target")
    x = arrays["input"]
    scale = None
    if batchmean:
        # torch: the reduced (or, with the legacy arguments, the 'mean' or 'none') loss / input.shape[0]
        batch = x.shape[0] if x.ndim else 1
        numel = math.prod(broadcast_shape([x.shape, arrays["target"].shape], _PAIR))
        base = 1.0 if reduction == "none" else reduction_scale(reduction, numel)
        scale = base / batch if batch else float("nan")
    return run_elementwise("kl_div", "kl_div_log" if log_target else "kl_div", _pair(arrays), originals, _PAIR,
                           reduction, _grad, out_dtype, scale=scale)


@loss_function(differentiable=("input", "target"))
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean", *, _grad=None):
    r"""Poisson negative log likelihood: :math:`\ell = e^{x} - y x` (``log_input``) or :math:`x - y \log(x + \epsilon)`.

    Mirrors ``torch.nn.functional.poisson_nll_loss``: ``full`` adds the Stirling term
    :math:`y \log y - y + \tfrac12 \log(2\pi y)` only where :math:`y > 1`. ``target`` broadcasts.

    Gradient: :math:`\partial\ell/\partial x = e^{x} - y` (or :math:`1 - y/(x + \epsilon)`),
    :math:`\partial\ell/\partial y = -x` (or :math:`-\log(x + \epsilon)`), plus
    :math:`\log y + 1/(2y)` where the Stirling term applies; torch's autograd through the masked
    term gives NaN for :math:`y \le 0` with ``full``, mirrored here.
    """
    if size_average is None and reduce is None and type(log_input) is bool and type(full) is bool:
        fast = _common_case(("poisson_log" if log_input else "poisson") + ("_full" if full else ""), reduction,
                            _grad, _PAIR, input, target, None, eps)
        if fast is not None:
            return fast
    reduction, arrays, originals, out_dtype = _prologue(
        {"input": input, "target": target}, reduction, size_average, reduce, _ANY_NUMERIC)
    kernel = ("poisson" + ("_log" if as_bool(log_input, "log_input") else "")
              + ("_full" if as_bool(full, "full") else ""))
    eps = as_float(eps, "eps")
    return run_elementwise("poisson_nll_loss", kernel, _pair(arrays), originals, _PAIR, reduction, _grad, out_dtype,
                           (eps,))


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


@loss_function(differentiable=("input", "target", "var"))
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean", *, _grad=None):
    r"""Gaussian negative log likelihood: :math:`\ell = \tfrac12 (\log v + (x - y)^2 / v)`,
    :math:`v = \max(var, \epsilon)`.

    Mirrors ``torch.nn.functional.gaussian_nll_loss``: ``var`` is an array of the input's shape,
    that shape with a last dimension of 1 (or one other dimension of 1), or the input's shape
    without its last dimension (then unsqueezed); anything else is refused, as is a negative
    entry. A Python float ``var`` stands for that value everywhere. ``full`` adds
    :math:`\tfrac12\log 2\pi`. var is clamped at eps for the value only: as in torch (clamp under
    no_grad) the gradient flows to var as if unclamped, evaluated at the clamped value.

    Gradient: :math:`\partial\ell/\partial x = (x - y)/v`, :math:`\partial\ell/\partial y = -(x - y)/v`,
    :math:`\partial\ell/\partial var = \tfrac12 (1/v - (x - y)^2/v^2)`.
    """
    if type(full) is bool:
        fast = _common_case("gaussian_nll", reduction, _grad, _GAUSSIAN, input, target, var, eps,
                            _HALF_LOG_2PI if full else 0.0)  # None for a negative var entry
        if fast is not None:
            return fast
    named = {"input": input, "target": target, "var": var}
    if isinstance(var, float):
        if var < 0:
            raise ValueError(f"gaussian_nll_loss: var has negative entry/entries (var={var!r})")
        del named["var"]  # a constant: no array, no gradient
    elif isinstance(var, (bool, int)):
        raise TypeError(f"gaussian_nll_loss: var must be a float or an array, got {type(var).__name__} {var!r}")
    reduction, arrays, originals, out_dtype = _prologue(named, reduction, None, None, ("input", "target"))
    _refuse_bool(originals["target"], "target", "gaussian_nll_loss")
    x, v = arrays["input"], arrays.get("var")
    if v is None:
        v = _backend.array_module(x).asarray(var, dtype=x.dtype)
    elif v.shape != x.shape:
        if x.shape[:-1] == v.shape:
            v = v[..., None]
            originals = dict(originals, var=originals["var"][..., None])
        elif not (v.ndim == x.ndim and sum(b for a, b in zip(x.shape, v.shape) if a != b) == 1):
            raise ValueError(f"gaussian_nll_loss: var is of incorrect size: var.shape={tuple(arrays['var'].shape)} "
                             f"for input.shape={x.shape} (expected the input's shape, that shape with one dimension "
                             f"of 1, or it without its last dimension)")
    eps = as_float(eps, "eps")
    result = run_elementwise("gaussian_nll_loss", "gaussian_nll", _pair(arrays) + [("var", v)], originals,
                             ("input", "target", "var"), reduction, _grad, out_dtype,
                             (eps, _HALF_LOG_2PI if as_bool(full, "full") else 0.0),
                             check="var has negative entry/entries")
    if _grad is not None and "var" in result[1]:
        result[1]["var"] = result[1]["var"].reshape(arrays["var"].shape)
    return result
