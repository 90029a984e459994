"""The elementwise losses: semantics, then one fused kernel call through :func:`run_elementwise`.

Every loss here is ``reduce(f(input, target, ...))`` with a per-element formula ``f`` that lives
in ``_cpu/elementwise.pyx.tp``; this module states each loss's arguments, checks and reduction.
"""
import numpy as np

from .. import _backend
from .._autograd import loss_function
from .._reduction import resolve_reduction
from .._validation import broadcast_shape, check_same_shape, float_operands, warn_if_sizes_differ
from ._common import (collapse_2d, finish_grad, finish_loss, get_num_threads, per_element_grad_output,
                      reduced_grad_scale, reduction_scale)

_NO_PARAMS = np.zeros(0)


def run_elementwise(loss_name, kernel_name, operands, originals, grad_names, reduction, grad, out_dtype,
                    params=(), scale=None):
    """Run one fused elementwise kernel and finish its results.

    operands:   ``[(name, array), ...]`` in the kernel's argument order, cast to the compute dtype
    originals:  ``{name: array}`` as the caller gave them (gradient shapes and dtypes)
    grad_names: the public names of the kernel's gradient outputs, in its order
    reduction:  'none', or a reduced mode whose ``scale`` multiplies the sum (default: 'sum' -> 1,
                'mean' -> 1/numel)
    grad:       a GradRequest or None (forward only)
    """
    names = [n for n, _ in operands]
    arrays = [a for _, a in operands]
    work = arrays[0].dtype
    shape = broadcast_shape([a.shape for a in arrays], names)
    numel = int(np.prod(shape))
    if reduction != "none" and scale is None:
        scale = reduction_scale(reduction, numel)

    go_array, g_scale = None, 1.0
    if grad is not None:
        if reduction == "none":
            g_scale, go_array = per_element_grad_output(grad, shape, work, loss_name)
        else:
            g_scale = reduced_grad_scale(grad, scale, loss_name)
    views = collapse_2d(shape, [np.broadcast_to(a, shape) for a in arrays]
                        + ([np.broadcast_to(go_array, shape)] if go_array is not None else []))
    go_view = views.pop() if go_array is not None else None
    rows, cols = views[0].shape

    out = np.empty((rows, cols), dtype=work) if reduction == "none" else None
    wanted = [grad is not None and grad.wants(n) and originals.get(n) is not None
              and originals[n].dtype.kind == "f" for n in grad_names]
    # The kernels compute either the first gradient or all of them.
    if any(wanted[1:]):
        wanted = [True] * len(wanted)
    gouts = [np.empty((rows, cols), dtype=work) if w else None for w in wanted]

    kernels = _backend.kernels("elementwise", *arrays)
    kernel = getattr(kernels, kernel_name)
    total = kernel(*views, np.asarray(params, dtype=np.float64) if params else _NO_PARAMS, out, *gouts,
                   go_view, g_scale, get_num_threads())

    loss = finish_loss(out.reshape(shape) if out is not None else total * scale, out_dtype)
    if grad is None:
        return loss
    grads = {n: finish_grad(g.reshape(shape), originals[n]) for n, g in zip(grad_names, gouts)
             if g is not None and grad.wants(n)}
    return loss, grads


def _pointwise_prologue(name, input, target, weight, reduction, size_average, reduce, allow_integer_target=True):
    """The shared start of the (input, target[, weight]) losses: reduction, coercion, torch's warning."""
    reduction = resolve_reduction(reduction, size_average, reduce)
    arrays, originals, out_dtype, _ = float_operands({"input": input, "target": target, "weight": weight},
                                                     allow_integer=("target",) if allow_integer_target else ())
    warn_if_sizes_differ(arrays["input"], arrays["target"], stacklevel=5)
    return reduction, arrays, out_dtype, originals


def _weighted_same_shape(name, kernel, arrays, originals, reduction, grad, out_dtype, weighted_mean):
    """torch 2.x's optional ``weight`` of l1/mse/huber: same size as the input, multiplies each element.

    ``weighted_mean``: 'mean' divides by sum(weight) (l1, mse) or by numel (huber).
    """
    weight = arrays["weight"]
    operands = [("input", arrays["input"]), ("target", arrays["target"])]
    if weight is None:
        return run_elementwise(name, kernel, operands, originals, ("input", "target"), reduction, grad, out_dtype)
    check_same_shape(arrays["input"], weight, "input", "weight")
    scale = None
    if reduction == "mean" and weighted_mean:
        total_weight = float(np.sum(weight, dtype=np.float64))
        scale = 1.0 / total_weight if total_weight != 0 else float("inf")
    return run_elementwise(name, kernel + "_weighted", operands + [("weight", weight)], originals,
                           ("input", "target"), reduction, grad, out_dtype, scale=scale)


@loss_function(differentiable=("input", "target"))
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None, *, _grad=None):
    r"""Mean squared error: :math:`\ell_n = w_n (x_n - y_n)^2`.

    Mirrors ``torch.nn.functional.mse_loss``. ``target`` broadcasts against ``input`` (with
    torch's warning when their sizes differ). ``weight`` (same size as input) multiplies each
    element; with it, ``'mean'`` is ``sum(w * l) / sum(w)``.

    Gradient: :math:`\partial\ell/\partial x = 2 w (x - y)`, :math:`\partial\ell/\partial y = -2 w (x - y)`.
    """
    reduction, arrays, out_dtype, originals = _pointwise_prologue(
        "mse_loss", input, target, weight, reduction, size_average, reduce)
    return _weighted_same_shape("mse_loss", "mse", arrays, originals, reduction, _grad, out_dtype, weighted_mean=True)


@loss_function(differentiable=("input", "target"))
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None, *, _grad=None):
    r"""Mean absolute error: :math:`\ell_n = w_n |x_n - y_n|`.

    Mirrors ``torch.nn.functional.l1_loss``; ``weight`` as in :func:`mse_loss`.

    Gradient: :math:`\partial\ell/\partial x = w\,\mathrm{sign}(x - y)` (0 at 0),
    :math:`\partial\ell/\partial y = -w\,\mathrm{sign}(x - y)`.
    """
    reduction, arrays, out_dtype, originals = _pointwise_prologue(
        "l1_loss", input, target, weight, reduction, size_average, reduce)
    return _weighted_same_shape("l1_loss", "l1", arrays, originals, reduction, _grad, out_dtype, weighted_mean=True)
