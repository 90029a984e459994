"""The embedding losses: cosine_embedding_loss, triplet_margin_loss, triplet_margin_with_distance_loss.

Row-wise losses over the last dimension of broadcast operands; the fused kernels live in
``_cpu/embedding.pyx`` (one pass computes the row's reductions, loss and gradient row).
"""
import numpy as np

from .. import _backend
from .._autograd import loss_function
from .._reduction import resolve_reduction
from .._validation import as_array, as_bool, as_float, broadcast_shape, float_operands
from ._common import finish_grad, finish_loss, per_element_grad_output, reduced_grad_scale, reduction_scale, threads_for
from ._rows import reduce_rows, row_grad_output
from .distances import PairwiseDistance, _rows, is_differentiable_distance, norm_kind


def _gradients(grad, names, buffers, shape, originals):
    return {n: finish_grad(g.reshape(shape), originals[n]) for n, g in zip(names, buffers)
            if g is not None and grad.wants(n)}


@loss_function(differentiable=("input1", "input2"))
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean",
                          *, _grad=None):
    r"""Cosine embedding loss: :math:`1 - \cos(x_1, x_2)` where :math:`y = 1`,
    :math:`\max(0, \cos(x_1, x_2) - \mathrm{margin})` where :math:`y = -1`, 0 for any other target.

    Mirrors ``torch.nn.functional.cosine_embedding_loss``: inputs ``(N, D)`` with target ``(N,)``,
    or ``(D,)`` with a 0-d target; inputs and target broadcast as in torch.
    :math:`\cos = \langle x_1, x_2\rangle / \sqrt{(|x_1|^2 + \epsilon)(|x_2|^2 + \epsilon)}` with torch's
    :math:`\epsilon` = float32(1e-12) (a C++ float), so a zero vector gives cos = 0 and finite gradients.

    Gradient: :math:`\partial\cos/\partial x_1 = x_2/\mathrm{denom} - \cos\,x_1/(|x_1|^2 + \epsilon)`
    (symmetric for :math:`x_2`), times -1 (y = 1) or 1 where :math:`\cos - \mathrm{margin} \ge 0` (y = -1).
    """
    name = "cosine_embedding_loss"
    reduction = resolve_reduction(reduction, size_average, reduce)
    margin = as_float(margin, "margin")
    arrays, originals, out_dtype, work = float_operands({"input1": input1, "input2": input2},
                                                        allow_integer=("input1", "input2"))
    x1, x2 = arrays["input1"], arrays["input2"]
    t = as_array(target, "target")
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{name}: target must be a numeric array, got dtype {t.dtype}")
    if t.ndim > 1:
        raise ValueError(f"{name}: target must be 0-D or 1-D (multi-target not supported), got shape {tuple(t.shape)}")
    want = 2 if t.ndim == 1 else 1
    if x1.ndim != want or x2.ndim != want:
        raise ValueError(f"{name}: a {t.ndim}-D target expects {want}-D inputs, got input1.shape={tuple(x1.shape)} "
                         f"and input2.shape={tuple(x2.shape)}")
    shape = broadcast_shape([x1.shape, x2.shape], ["input1", "input2"])
    batch_shape = broadcast_shape([shape[:-1], t.shape], ["input rows", "target"])
    shape = batch_shape + shape[-1:]
    rows = int(batch_shape[0]) if batch_shape else 1
    D = shape[-1]
    a, b = _rows(x1, shape), _rows(x2, shape)
    _backend.check_same_backend({"input1": x1, "target": t})
    xp = _backend.array_module(a)
    t = (t if t.shape == batch_shape else xp.broadcast_to(t, batch_shape)).reshape(rows)
    sign = (t == 1).view(np.int8) - (t == -1).view(np.int8)
    g1 = g2 = go = None
    g_scale = 1.0
    if _grad is not None:
        g_scale, go = row_grad_output(name, _grad, reduction, rows, batch_shape, work)
        g1 = xp.empty((rows, D), dtype=work) if _grad.wants("input1") else None
        g2 = xp.empty((rows, D), dtype=work) if _grad.wants("input2") else None
    rowloss = xp.empty(rows, dtype=np.float64)
    _backend.kernels("embedding", a).cosine_embedding(a, b, sign, margin, rowloss, g1, g2, go, g_scale,
                                                      threads_for(rows * D))
    loss = reduce_rows(rowloss, batch_shape, reduction, out_dtype)
    if _grad is None:
        return loss
    return loss, _gradients(_grad, ("input1", "input2"), (g1, g2), shape, originals)


def _check_margin_positive(margin):
    margin = as_float(margin, "margin")
    if not margin > 0:
        raise ValueError(f"margin must be greater than 0, got {margin!r}")
    return margin


def _triplet_operands(name, anchor, positive, negative):
    """Coerced (anchor, positive, negative), torch's same-ndim rule, the broadcast shape (..., D)."""
    arrays, originals, out_dtype, work = float_operands(
        {"anchor": anchor, "positive": positive, "negative": negative},
        allow_integer=("anchor", "positive", "negative"))
    dims = [arrays[n].ndim for n in ("anchor", "positive", "negative")]
    if len(set(dims)) != 1:
        raise ValueError(f"{name}: the anchor, positive, and negative arrays must have the same number of "
                         f"dimensions, got anchor {dims[0]}-D, positive {dims[1]}-D and negative {dims[2]}-D")
    shape = broadcast_shape([arrays[n].shape for n in ("anchor", "positive", "negative")],
                            ["anchor", "positive", "negative"])
    return arrays, originals, out_dtype, work, shape


def _run_triplet(name, arrays, originals, out_dtype, work, shape, margin, p, eps, swap, reduction, grad):
    """The fused p-norm triplet kernel over the rows of the broadcast shape."""
    rows_shape = shape if shape else (1,)
    a, pp, n = (_rows(arrays[k], shape) for k in ("anchor", "positive", "negative"))
    xp = _backend.array_module(a)
    rows, D = a.shape
    batch_shape = shape[:-1]
    names = ("anchor", "positive", "negative")
    buffers = (None, None, None)
    go = None
    g_scale = 1.0
    if grad is not None:
        g_scale, go = row_grad_output(name, grad, reduction, rows, batch_shape, work)
        if any(grad.wants(k) and originals[k].dtype.kind == "f" for k in names):
            buffers = tuple(xp.empty((rows, D), dtype=work) for _ in names)
    rowloss = xp.empty(rows, dtype=np.float64)
    _backend.kernels("embedding", a).triplet_margin(a, pp, n, margin, p, norm_kind(p), eps, swap,
                                                    rowloss, *buffers, go, g_scale, threads_for(rows * D))
    loss = reduce_rows(rowloss, batch_shape, reduction, out_dtype)
    if grad is None:
        return loss
    grads = {k: finish_grad(g.reshape(rows_shape).reshape(shape), originals[k]) for k, g in zip(names, buffers)
             if g is not None and grad.wants(k) and originals[k].dtype.kind == "f"}
    return loss, grads


@loss_function(differentiable=("anchor", "positive", "negative"))
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean", *, _grad=None):
    r"""Triplet loss: :math:`\max(0, \mathrm{margin} + d(a, p) - d(a, n))`, :math:`d(u, v) = \|u - v + \epsilon\|_p`
    over the last dimension (torch's ``pairwise_distance``: eps is added to the difference).

    Mirrors ``torch.nn.functional.triplet_margin_loss``: margin > 0 (else ValueError); the three
    arguments have the same number of dimensions and broadcast; ``(N, D)``, unbatched ``(D,)`` or
    any ``(..., D)``. ``swap`` uses :math:`\min(d(a, n), d(p, n))` (a tie splits the gradient
    evenly, as torch's min backward). Any p, with torch's norm gradient cases.

    Gradient: where :math:`\mathrm{margin} + d(a, p) - d_{neg} \ge 0`,
    :math:`\partial/\partial a = \nabla_u d(a, p) - \nabla_u d(a, n)` etc., with
    :math:`\nabla_u \|u - v + \epsilon\|_2 = (u - v + \epsilon)/\|u - v + \epsilon\|_2` (0 at 0).
    """
    name = "triplet_margin_loss"
    margin = _check_margin_positive(margin)
    reduction = resolve_reduction(reduction, size_average, reduce)
    p = as_float(p, "p")
    eps = as_float(eps, "eps")
    swap = as_bool(swap, "swap")
    arrays, originals, out_dtype, work, shape = _triplet_operands(name, anchor, positive, negative)
    return _run_triplet(name, arrays, originals, out_dtype, work, shape, margin, p, eps, swap, reduction, _grad)


@loss_function(differentiable=("anchor", "positive", "negative"))
def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean", _grad=None):
    r"""Triplet loss with a distance function: :math:`\max(0, \mathrm{margin} + d(a, p) - d_{neg})`.

    Mirrors ``torch.nn.functional.triplet_margin_with_distance_loss``. ``distance_function=None``
    (or a :class:`~fastloss.nn.PairwiseDistance`) runs the fused p-norm kernel; any other callable
    ``d(x1, x2)`` gives the forward value, and ``value_and_grad`` additionally needs the distance
    protocol (``value_and_vjp``, see ``fastloss._losses.distances``), else TypeError. ``swap`` uses
    ``minimum(d(a, n), d(p, n))``; at a tie the gradient is split evenly (torch.minimum).
    """
    name = "triplet_margin_with_distance_loss"
    margin = _check_margin_positive(margin)
    reduction = resolve_reduction(reduction)
    swap = as_bool(swap, "swap")
    if distance_function is not None and not callable(distance_function):
        raise TypeError(f"{name}: distance_function must be callable or None, got {type(distance_function).__name__}")
    arrays, originals, out_dtype, work, shape = _triplet_operands(name, anchor, positive, negative)
    df = distance_function
    if df is None or (type(df) is PairwiseDistance and not df.keepdim):
        p, eps = (2.0, 1e-6) if df is None else (df.norm, df.eps)
        return _run_triplet(name, arrays, originals, out_dtype, work, shape, margin, p, eps, swap, reduction, _grad)
    if _grad is not None and not is_differentiable_distance(df):
        raise TypeError(
            f"{name}: value_and_grad needs the gradient of distance_function={df!r}, which is a plain callable. "
            "Pass a fastloss distance (fastloss.nn.PairwiseDistance, fastloss.nn.CosineDistance) or an object "
            "with value_and_vjp(x1, x2) -> (distances, vjp), where vjp(grad_distances) -> (grad_x1, grad_x2) "
            "(subclass fastloss.nn.Distance); a plain callable is enough for the forward value.")
    return _generic_triplet(name, df, arrays, originals, out_dtype, margin, swap, reduction, _grad)


def _generic_triplet(name, df, arrays, originals, out_dtype, margin, swap, reduction, grad):
    """triplet_margin_with_distance_loss through a user distance, in the inputs' array module
    (NumPy or CuPy; the distance does the work)."""
    a, p, n = (originals[k] if originals[k].dtype.kind == "f" else arrays[k]
               for k in ("anchor", "positive", "negative"))
    xp = _backend.array_module(a)
    call = (lambda u, v: (as_array(df(u, v), "distance_function(...)"), None)) if grad is None else df.value_and_vjp
    d_pos, vjp_pos = call(a, p)
    d_an, vjp_an = call(a, n)
    d_pos, d_an = xp.asarray(d_pos), xp.asarray(d_an)
    d_neg = d_an
    if swap:
        d_pn, vjp_pn = call(p, n)
        d_pn = xp.asarray(d_pn)
        d_neg = xp.minimum(d_an, d_pn)
    work = np.result_type(d_pos.dtype, d_neg.dtype, np.float32)
    v = (margin + d_pos - d_neg).astype(work, copy=False)
    per_row = xp.where(v >= 0, v, xp.where(xp.isnan(v), v, 0))  # clamp_min(v, 0), nan kept
    count = per_row.size
    loss = finish_loss(per_row if reduction == "none" else
                       per_row.sum(dtype=np.float64) * reduction_scale(reduction, count), out_dtype)
    if grad is None:
        return loss
    if reduction == "none":
        g_scale, go = per_element_grad_output(grad, per_row.shape, np.float64, name)
        upstream = g_scale * (xp.ones(per_row.shape) if go is None else go)
    else:
        upstream = xp.full(per_row.shape, reduced_grad_scale(grad, reduction_scale(reduction, count), name))
    upstream = xp.where(v >= 0, upstream, 0.0)
    w_an = 1.0
    if swap:
        # torch.minimum: the smaller argument takes the gradient, a tie splits it
        w_an = xp.where(d_an < d_pn, 1.0, xp.where(d_an == d_pn, 0.5, 0.0))
    ga_p, gp_p = vjp_pos(upstream)
    ga_n, gn_n = vjp_an(-upstream * w_an)
    grads = {"anchor": ga_p + ga_n, "positive": gp_p, "negative": gn_n}
    if swap:
        gp_s, gn_s = vjp_pn(-upstream * (1.0 - w_an))
        grads["positive"] = grads["positive"] + gp_s
        grads["negative"] = grads["negative"] + gn_s
    return loss, {k: finish_grad(xp.asarray(g), originals[k]) for k, g in grads.items()
                  if grad.wants(k) and originals[k].dtype.kind == "f"}
