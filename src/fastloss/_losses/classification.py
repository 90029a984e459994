"""The classification losses: nll_loss, cross_entropy, multilabel_soft_margin_loss.

This module states each loss's arguments, shape rules, checks and reductions; the fused loops
live in ``_cpu/classification.pyx``. A class-dimension input ``(C,)``, ``(N, C)`` or
``(N, C, d1, ..., dK)`` is seen as a 3-D ``(N, C, S)`` view (:func:`_ncs`), index targets as a
C-contiguous int64 ``(N, S)`` array, and every range check, mean denominator and grad_output
scale is settled here before a kernel runs.
"""
import numpy as np

from .. import _backend
from .._autograd import loss_function
from .._reduction import resolve_reduction
from .._validation import (
    as_array,
    as_float,
    as_int,
    broadcast_shape,
    cast,
    check_class_weight_dtype,
    check_floating,
    check_index_range,
    compute_dtype,
    device_index_error,
    float_operands,
    index_array,
    index_bounds,
)
from ._common import (
    common_case_entry,
    finish_grad,
    finish_loss,
    ones,
    per_element_grad_output,
    plain_reduction,
    reduced_grad_scale,
    sum_partials,
    threads_for,
)

__all__ = ["nll_loss", "cross_entropy", "multilabel_soft_margin_loss"]


# How a class-dimension input is handed to the softmax kernels (:func:`_ncs`). Each kernel view
# is ``(N', C, S')`` with the samples enumerated in C order of ``(N, S)``:
#   ROWS:    class stride 1, one sample per row, S' = 1 (``(N, C)``; also channels-last
#            ``(N, C, d1..dK)`` views, whose N * S samples are rows of one stride)
#   SPATIAL: the merged spatial axes have stride 1 (``(N, C, d1..dK)`` in C order), S' = S
#   CLASSES: a class-major ``(N, C)`` view (``x.T`` of a C-order ``(C, N)`` array): the N samples
#            are read as the spatial axis of a single ``(1, C, N)`` item, S' = N
ROWS, SPATIAL, CLASSES = "rows", "spatial", "classes"


def _ncs(x, layout=None):
    """``x`` (ndim >= 1, class dim 1, or 0 when 1-D) as a kernel view ``(N', C, S')``, and its layout.

    The layout is chosen from ``x``'s strides, so that C order, class-major (transposed) and
    channels-last inputs are read in place; anything else (reversed, strided views) is copied
    once. ``layout`` forces one (a probability target follows its input), copying if needed.
    The gradient of the view maps back to ``x``'s shape with :func:`_from_ncs`.
    """
    if x.ndim == 1:
        v = x.reshape(1, x.shape[0], 1)
    else:
        v = x.reshape(x.shape[0], x.shape[1], _spatial_size(x))
    N, C, S = v.shape
    item = v.itemsize
    sn, sc, ss = v.strides
    if layout is None and sn >= 0 and sc >= 0 and ss >= 0:  # the common cases first
        if S == 1 and (sc == item or C <= 1):
            return v, ROWS
        if S > 1 and ss == item:
            return v, SPATIAL
    if min(sn, sc, ss) >= 0:
        rows = (sc == item or C <= 1) and (S == 1 or N == 1 or sn == ss * S)
        spatial = S > 1 and ss == item
        classes = S == 1 and N > 1 and C > 1 and sn == item
        if layout is None:
            layout = ROWS if S == 1 and rows else SPATIAL if spatial else ROWS if rows else CLASSES if classes else None
        if layout == ROWS and rows:
            strided = _backend.array_module(v).lib.stride_tricks.as_strided  # NumPy's or CuPy's
            return (v if S == 1 else strided(v, (N * S, C, 1), (ss, sc, 0))), ROWS
        if layout == SPATIAL and spatial:
            return v, SPATIAL
        if layout == CLASSES and classes:
            return v[:, :, 0].T[None], CLASSES
    # a copy laid out for the layout asked for (C order by default)
    xp = _backend.array_module(v)
    if layout == CLASSES:
        return xp.ascontiguousarray(v[:, :, 0].T)[None], CLASSES
    if layout == ROWS and S > 1:
        return xp.ascontiguousarray(xp.moveaxis(v, 1, 2)).reshape(N * S, C, 1), ROWS
    return xp.ascontiguousarray(v), (layout or (ROWS if S == 1 else SPATIAL))


def _from_ncs(g, layout, shape):
    """A C-contiguous gradient ``(N', C, S')`` of a kernel view, as an array of the input's ``shape``."""
    if layout == CLASSES:
        return g[0].T.reshape(shape)
    if layout == ROWS and g.shape[2] == 1 and len(shape) > 2 and _prod(shape[2:]) > 1:
        # channels-last rows: (N * S, C) -> (N, d1..dK, C) -> (N, C, d1..dK)
        return _backend.array_module(g).moveaxis(g.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],)), -1, 1)
    return g.reshape(shape)


def _prod(dims):
    size = 1
    for d in dims:
        size *= d
    return size


def _spatial_size(x):
    return _prod(x.shape[2:]) if x.ndim > 2 else 1


def _class_shapes(loss_name, input, target_shape):
    """torch's shape rules of an index target; returns the 'none' loss shape."""
    if input.ndim == 0:
        raise ValueError(f"{loss_name}: input must have 1 or more dimensions (got 0)")
    tshape = tuple(target_shape)
    if input.ndim == 1:
        if tshape != ():
            raise ValueError(f"{loss_name}: an unbatched input of shape {tuple(input.shape)} needs a 0-d target, "
                             f"got target.shape={tshape}")
        return ()
    if len(tshape) == 0 or tshape[0] != input.shape[0]:
        got = tshape[0] if tshape else "none (0-d target)"
        raise ValueError(f"{loss_name}: expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({got})")
    want = (input.shape[0],) + tuple(input.shape[2:])
    if tshape != want:
        raise ValueError(f"{loss_name}: target.shape={tshape} does not match input.shape={tuple(input.shape)} "
                         f"(expected target.shape={want})")
    return want


def _class_weight(weight, C, work, loss_name, xp=np):
    """The per-class weight as a contiguous length-C array (ones when absent)."""
    if weight is None:
        return (ones(C, work) if xp is np else xp.ones(C, dtype=work)), False
    if weight.ndim != 1 or weight.shape[0] != C:
        raise ValueError(f"{loss_name}: weight should be defined either for all {C} classes or no classes, "
                         f"got weight.shape={tuple(weight.shape)}")
    return xp.ascontiguousarray(weight), True


def _index_target(target, input, ignore_index, loss_name):
    """The class-index target as C-contiguous int64 ``(N, S)``, shape- and range-checked."""
    loss_shape = _class_shapes(loss_name, input, target.shape)
    C = input.shape[0] if input.ndim == 1 else input.shape[1]
    # Fast path: the bounds prove the common case (every entry a class, none ignored) without
    # building masks; otherwise the full check finds and names the bad entry.
    some_ignored = True
    xp = _backend.array_module(target)
    if target.size and xp is np:  # a device target is checked by the kernels (BadIndex), without a read
        low, high = index_bounds(target)
        some_ignored = low <= ignore_index <= high
        if low < 0 or high >= C:
            check_index_range(target, "target", 0, C, ignore=ignore_index)
    elif target.size and C == 0:  # a device target with no classes: no kernel runs to check it (rare)
        check_index_range(_backend.to_host(target), "target", 0, C, ignore=ignore_index)
    N = 1 if input.ndim == 1 else input.shape[0]
    t = xp.ascontiguousarray(target.reshape(N, _spatial_size(input)))
    return t, loss_shape, some_ignored


def _denominator(t, w, weighted, ignore_index, some_ignored):
    """'mean' divides by the summed weight of the non-ignored targets (their count if unweighted)."""
    flat = t.reshape(-1)
    if _backend.array_module(t) is not np:
        # summed on the device, read once: 1/denominator is the kernels' gradient scale. Targets
        # out of range (the kernel raises for them afterwards) are clipped to stay in bounds.
        xp = _backend.array_module(t)
        keep = flat != ignore_index
        if weighted and w.shape[0]:
            total = xp.where(keep, w[xp.clip(flat, 0, w.shape[0] - 1)], 0).sum(dtype=np.float64)
        elif weighted:
            return 0.0  # no classes: every target was ignored
        else:
            total = xp.count_nonzero(keep)
        return float(_backend.to_host(total))
    if not some_ignored:
        return float(np.sum(w[flat], dtype=np.float64)) if weighted else float(flat.size)
    keep = flat != ignore_index
    if weighted:
        return float(np.sum(w[flat[keep]], dtype=np.float64))
    return float(np.count_nonzero(keep))


def _grad_setup(grad, reduction, loss_shape, denom, work, loss_name):
    """(g_scale, per-element grad_output as a 2-D (N, S) array or None) for a kernel call."""
    if reduction == "none":
        g_scale, go = per_element_grad_output(grad, loss_shape, work, loss_name)
        return g_scale, go
    scale = 1.0 if reduction == "sum" else (1.0 / denom if denom else float("nan"))
    return reduced_grad_scale(grad, scale, loss_name), None


# The work (in elements, for threads_for) of nll's forward read of one sample's entry: a cache line.
NLL_SAMPLE_WORK = 16

# Spatial positions per work item of the (N, C, S) kernels: classification.pyx's SBLOCK.
SPATIAL_BLOCK = 256


def _partial_sums(N, C, S, out, per_sample=False, xp=np):
    """The zeroed per-work-item loss sums the kernels fill: one per sample (row layout, or
    ``per_sample``) or one per block of SPATIAL_BLOCK positions. With no classes no kernel runs
    and a 'none' loss is all zeros."""
    if C == 0:
        if out is not None:
            out[:] = 0
        return xp.zeros(1)
    items = N if (S == 1 or per_sample) else N * ((S + SPATIAL_BLOCK - 1) // SPATIAL_BLOCK)
    return xp.zeros(max(items, 1))


def _finish(loss_name, reduction, out, partial, denom, loss_shape, out_dtype):
    if reduction == "none":
        return finish_loss(out.reshape(loss_shape), out_dtype)
    total = sum_partials(partial)  # on the device for a device array
    if reduction == "mean":
        total = total / denom if denom else total * float("nan")
    return finish_loss(total, out_dtype)


def _class_index_loss(loss_name, kernel_name, input, target, weight, ignore_index, reduction, grad, eps=0.0):
    """The shared body of nll_loss and class-index cross_entropy."""
    # The input alone sets the dtype (one operand: no promotion to find); torch refuses a weight
    # of another dtype here.
    original = check_floating(as_array(input, "input"), "input")
    out_dtype = original.dtype
    work = compute_dtype(out_dtype)
    x = cast(original, work)
    if weight is not None:
        weight = as_array(weight, "weight")
        check_class_weight_dtype(weight, original, loss_name)
        weight = cast(weight, work)
        _backend.check_same_backend({"input": x, "weight": weight})
    _backend.check_same_backend({"input": x, "target": target})
    xp = _backend.array_module(x)
    t, loss_shape, some_ignored = _index_target(target, x, ignore_index, loss_name)
    C = x.shape[0] if x.ndim == 1 else x.shape[1]
    w, weighted = _class_weight(weight, C, work, loss_name, xp)
    if kernel_name == "nll":
        # nll reads one entry per sample, through any strides: no layout to choose, no copy
        v, layout = (x.reshape(1, C, 1) if x.ndim == 1 else x.reshape(x.shape[0], C, _spatial_size(x))), SPATIAL
    else:
        v, layout = _ncs(x)
    N, _, S = v.shape
    if t.shape[0] != N:  # the layout regrouped the samples (same order)
        t = t.reshape(N, S)
    denom = _denominator(t, w, weighted, ignore_index, some_ignored) if reduction == "mean" else 1.0
    want = grad is not None and grad.wants("input")
    go = None
    g_scale = 1.0
    if grad is not None:
        g_scale, go = _grad_setup(grad, reduction, loss_shape, denom, work, loss_name)
        if go is not None:
            go = xp.ascontiguousarray(go.reshape(N, S))
    out = xp.empty((N, S), dtype=work) if reduction == "none" else None
    g = xp.empty((N, C, S), dtype=work) if want else None
    kernels = _backend.kernels("classification", x)
    # nll's forward reads one entry per sample, but each in a cache line (and often a page) of its
    # own, a memory latency rather than an element's work: counted as a line of elements (8192
    # samples of 1000 classes take half the time on two threads); its gradient writes them all
    threads = threads_for(N * S * NLL_SAMPLE_WORK if kernel_name == "nll" and not want else N * C * S)
    partial = _partial_sums(N, C, S, out, per_sample=kernel_name == "nll", xp=xp)
    try:
        if C == 0:
            pass  # no classes: every target was ignored (or the range check failed); nothing to read
        elif kernel_name == "nll":
            kernels.nll(v, t, w, ignore_index, out, g, go, g_scale, partial, threads)
        elif layout == ROWS:
            kernels.ce_index_rows(v, t, w, ignore_index, eps, out, g, go, g_scale, partial, threads)
        else:
            kernels.ce_index_spatial(v, t, w, ignore_index, eps, out, g, go, g_scale, partial, threads)
    except IndexError as bad:  # a device target out of range, found by the kernel (fastloss._gpu.BadIndex)
        raise device_index_error(bad, target, "target", 0, C, ignore=ignore_index) from None
    loss = _finish(loss_name, reduction, out, partial, denom, loss_shape, out_dtype)
    if grad is None:
        return loss
    grads = {}
    if want:
        grads["input"] = finish_grad(_from_ncs(g, layout, x.shape), original)
    return loss, grads


_INT64_LIMIT = 2 ** 63


def _fast_class_index(kernel_name, input, target, ignore_index, reduction, grad):
    """nll_loss and class-index cross_entropy in the common case, without the general path's
    machinery (:func:`_class_index_loss`, whose result it equals bit for bit): one compiled step,
    the kernel module's ``common_case`` (NumPy arrays, an aligned C-contiguous ``(N, C)``
    float32/float64 input, a contiguous int64 ``(N,)`` target whose every entry is a class, none
    ignored), here with no weight, no smoothing, a reduced loss and grad_output at its default.
    Returns None for any other call: the general path checks and computes it."""
    if grad is not None and grad.grad_output is not None:
        return None
    want = grad is not None and grad.wants("input")
    entry = common_case_entry("classification")
    result = None if entry is None else entry(input, target, ignore_index, reduction == "mean", want,
                                              kernel_name == "nll")
    if result is None:
        return None
    loss, g = result
    return loss if grad is None else (loss, {"input": g} if want else {})


def _fast_options(size_average, reduce, reduction, ignore_index):
    """Whether a class-index call's options allow :func:`_fast_class_index`."""
    return (plain_reduction(size_average, reduce, reduction) and type(ignore_index) is int
            and -_INT64_LIMIT <= ignore_index < _INT64_LIMIT)


@loss_function(differentiable=("input",))
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean", *,
             _grad=None):
    r"""Negative log-likelihood: :math:`\ell_n = -w_{y_n} x_{n, y_n}` (0 where ``y_n == ignore_index``).

    Mirrors ``torch.nn.functional.nll_loss``: input ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``,
    target ``()``, ``(N)`` or ``(N, d1, ..., dK)`` of any integer dtype. ``'mean'`` is
    :math:`\sum_n \ell_n / \sum_n w_{y_n}` over the non-ignored targets, so all targets ignored
    gives nan (0/0), as torch. ``ignore_index`` may lie outside ``[0, C)``; any other target
    outside ``[0, C)`` raises IndexError.

    Gradient (input only): :math:`\partial\ell_n/\partial x_{n,c} = -w_{y_n}[c = y_n]`, times the
    reduction scale and grad_output.
    """
    if weight is None and _fast_options(size_average, reduce, reduction, ignore_index):
        fast = _fast_class_index("nll", input, target, ignore_index, reduction, _grad)
        if fast is not None:
            return fast
    reduction = resolve_reduction(reduction, size_average, reduce)
    ignore_index = as_int(ignore_index, "ignore_index")
    target = index_array(target, "target")
    return _class_index_loss("nll_loss", "nll", input, target, weight, ignore_index, reduction, _grad)


@loss_function(differentiable=("input", "target"))
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0, *, _grad=None):
    r"""Cross entropy of logits: ``nll_loss(log_softmax(input, 1), target)``, fused.

    Mirrors ``torch.nn.functional.cross_entropy``. Class dimension 1 (0 for an unbatched ``(C)``
    input); K-dim inputs ``(N, C, d1, ..., dK)`` are read in place (no transposed copy).

    * Class-index target (any integer dtype), smoothing :math:`\epsilon`, :math:`W = \sum_c w_c`:
      :math:`\ell = (1-\epsilon) w_y (\mathrm{lse}(x) - x_y) + \frac{\epsilon}{C}\sum_c w_c (\mathrm{lse}(x) - x_c)`,
      0 where ``y == ignore_index``. ``'mean'`` divides both terms by :math:`\sum w_{y}` over the
      non-ignored targets (their count without weight): torch's rule; all ignored gives nan.
      Gradient: :math:`(1-\epsilon) w_y (p - e_y) + \frac{\epsilon}{C}(W p - w)`, :math:`p = \mathrm{softmax}(x)`.
    * Probability target (floating, the input's shape): with :math:`y' = (1-\epsilon) y + \epsilon/C`,
      :math:`\ell = -\sum_c w_c y'_c \log\mathrm{softmax}(x)_c`; ``'mean'`` divides by the number of
      samples ``N * d1 * ... * dK`` (not by weights). ``ignore_index`` must stay at its default.
      Gradients: input :math:`(\sum_c w_c y'_c) p - w y'`; target :math:`(1-\epsilon) w (\mathrm{lse} - x)`
      (torch differentiates the target too).

    ``label_smoothing`` above 1 is refused; as in torch, a negative or NaN one means no smoothing.
    Without smoothing only the weights of the target classes matter: a NaN or infinite weight of
    a class that no sample targets changes nothing (torch's result).
    """
    if (weight is None and type(label_smoothing) in (float, int) and label_smoothing == 0
            and _fast_options(size_average, reduce, reduction, ignore_index)):
        fast = _fast_class_index("ce", input, target, ignore_index, reduction, _grad)
        if fast is not None:
            return fast
    reduction = resolve_reduction(reduction, size_average, reduce)
    ignore_index = as_int(ignore_index, "ignore_index")
    eps = as_float(label_smoothing, "label_smoothing")
    if eps > 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {eps!r}")
    if not eps > 0.0:
        eps = 0.0  # torch smooths only when label_smoothing > 0: negative and NaN values are ignored
    input = as_array(input, "input")
    target_arr = as_array(target, "target")
    input_shape = input.shape
    if tuple(target_arr.shape) == tuple(input_shape):
        # torch: a target of the input's shape holds class probabilities
        if target_arr.dtype.kind != "f":
            raise TypeError(f"cross_entropy: a target of the input's shape holds class probabilities and must be "
                            f"floating point, got dtype {target_arr.dtype}")
    else:
        if target_arr.dtype.kind not in "iu":
            raise TypeError(f"cross_entropy: class-index target must be an integer array, got dtype "
                            f"{target_arr.dtype} (class probabilities need target.shape == input.shape "
                            f"{tuple(input_shape)}, got {tuple(target_arr.shape)})")
        return _class_index_loss("cross_entropy", "ce", input, index_array(target_arr, "target"), weight,
                                 ignore_index, reduction, _grad, eps)
    return _class_probability_loss(input, target_arr, weight, ignore_index, reduction, eps, _grad)


def _class_probability_loss(input, target, weight, ignore_index, reduction, eps, grad):
    arrays, originals, out_dtype, work = float_operands({"input": input, "target": target, "weight": weight})
    x, y = arrays["input"], arrays["target"]
    if x.ndim == 0:
        raise ValueError("cross_entropy: input must have 1 or more dimensions (got 0)")
    if ignore_index != -100:
        raise ValueError(f"cross_entropy: ignore_index={ignore_index} is not supported for probability targets")
    C = x.shape[0] if x.ndim == 1 else x.shape[1]
    xp = _backend.array_module(x)
    w, _ = _class_weight(arrays["weight"], C, work, "cross_entropy", xp)
    v, layout = _ncs(x)
    yv, _ = _ncs(y, layout)
    N, _, S = v.shape
    loss_shape = () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])
    # torch divides by input.numel() / C: nan when there are no classes
    denom = float(N * S) if C else 0.0
    want_x = grad is not None and grad.wants("input")
    want_y = grad is not None and grad.wants("target")
    go, g_scale = None, 1.0
    if grad is not None:
        g_scale, go = _grad_setup(grad, reduction, loss_shape, denom, work, "cross_entropy")
        if go is not None:
            go = xp.ascontiguousarray(go.reshape(N, S))
    out = xp.empty((N, S), dtype=work) if reduction == "none" else None
    gx = xp.empty((N, C, S), dtype=work) if want_x else None
    gy = xp.empty((N, C, S), dtype=work) if want_y else None
    kernels = _backend.kernels("classification", x)
    threads = threads_for(N * C * S)
    partial = _partial_sums(N, C, S, out, xp=xp)
    if C == 0:
        pass  # no classes: nothing to read
    elif layout == ROWS:
        kernels.ce_prob_rows(v, yv, w, eps, out, gx, gy, go, g_scale, partial, threads)
    else:
        kernels.ce_prob_spatial(v, yv, w, eps, out, gx, gy, go, g_scale, partial, threads)
    loss = _finish("cross_entropy", reduction, out, partial, denom, loss_shape, out_dtype)
    if grad is None:
        return loss
    grads = {}
    if want_x:
        grads["input"] = finish_grad(_from_ncs(gx, layout, x.shape), originals["input"])
    if want_y:
        grads["target"] = finish_grad(_from_ncs(gy, layout, x.shape), originals["target"])
    return loss, grads


@loss_function(differentiable=("input", "target"))
def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean", *,
                                _grad=None):
    r"""Multi-label one-versus-all logistic loss.

    Mirrors ``torch.nn.functional.multilabel_soft_margin_loss``:
    :math:`\ell_n = \frac{1}{C}\sum_c w_c\,[-y_{n,c}\log\sigma(x_{n,c}) - (1-y_{n,c})\log\sigma(-x_{n,c})]`,
    with C the size of the input's last dimension, summed over that axis (torch's
    ``class_dim = input.dim() - 1``), then reduced over the remaining elements. Target and weight
    broadcast against the input as in torch (integer targets are accepted); a 1-D input is one
    sample, and its 'none' loss is 0-d.

    Gradients: input :math:`w(\sigma(x) - y)/C`, target :math:`-w x / C`.
    """
    reduction = resolve_reduction(reduction, size_average, reduce)
    arrays, originals, out_dtype, work = float_operands({"input": input, "target": target, "weight": weight},
                                                        allow_integer=("target", "weight"))
    x, y, w = arrays["input"], arrays["target"], arrays["weight"]
    if x.ndim == 0:
        raise ValueError("multilabel_soft_margin_loss: input must have 1 or more dimensions (got 0)")
    names = ["input", "target"] + (["weight"] if w is not None else [])
    shape = broadcast_shape([a.shape for a in (x, y, w) if a is not None], names)
    # torch sums over class_dim = input.dim() - 1 of the broadcast loss (counted from the front)
    # and divides by input.size(-1); both differ from the last axis only when the target or the
    # weight broadcasts the input to more dimensions.
    axis = x.ndim - 1
    C = x.shape[-1]
    xp = _backend.array_module(x)
    if w is None:
        w = xp.ones((), dtype=work)
    if len(shape) == x.ndim:  # the class axis is already the last (the common case): no moveaxis
        views = [a if a.shape == shape else xp.broadcast_to(a, shape) for a in (x, y, w)]
    else:
        views = [xp.moveaxis(xp.broadcast_to(a, shape), axis, -1) for a in (x, y, w)]
    inner = views[0].shape
    loss_shape = inner[:-1]
    rows = _prod(loss_shape)
    cols = inner[-1]
    views = [v.reshape(rows, cols) for v in views]
    want_x = _grad is not None and _grad.wants("input")
    want_y = _grad is not None and _grad.wants("target") and originals["target"].dtype.kind == "f"
    go, g_scale = None, 1.0
    if _grad is not None:
        if reduction == "none":
            g_scale, go = per_element_grad_output(_grad, loss_shape, work, "multilabel_soft_margin_loss")
            if go is not None:
                go = xp.ascontiguousarray(go.reshape(rows))
        else:
            scale = 1.0 if reduction == "sum" else (1.0 / rows if rows else float("nan"))
            g_scale = reduced_grad_scale(_grad, scale, "multilabel_soft_margin_loss")
    out = xp.empty(rows, dtype=work) if reduction == "none" else None
    gx = xp.empty((rows, cols), dtype=work) if want_x else None
    gy = xp.empty((rows, cols), dtype=work) if want_y else None
    partial = xp.zeros(max(rows, 1))
    kernels = _backend.kernels("classification", x)
    if cols == 0:
        # torch divides an empty class sum by C = 0: nan per row
        if out is not None:
            out[:] = np.nan
        else:
            partial[:rows] = np.nan
        for g in (gx, gy):
            if g is not None:
                g[:] = 0
    else:
        kernels.multilabel_soft_margin(*views, 1.0 / C if C else float("nan"), out, gx, gy, go, g_scale, partial,
                                       threads_for(rows * cols))
    if reduction == "none":
        loss = finish_loss(out.reshape(loss_shape), out_dtype)
    else:
        total = sum_partials(partial[:rows])  # on the device for a device array
        if reduction == "mean":
            total = total / rows if rows else total * float("nan")
        loss = finish_loss(total, out_dtype)
    if _grad is None:
        return loss
    grads = {}
    for name, g in (("input", gx), ("target", gy)):
        if g is not None:
            full = xp.moveaxis(g.reshape(inner), -1, axis)
            grads[name] = finish_grad(full, originals[name])
    return loss, grads
