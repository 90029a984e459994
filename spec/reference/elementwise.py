"""References of the elementwise losses: ``l(x, y)`` and its partial derivatives, then reduce."""
import numpy as np

from ._common import f64, reduce


def _broadcast(input, target, *more):
    arrays = f64(input, target, *more)
    shape = np.broadcast_shapes(*[a.shape for a in arrays if a is not None])
    shapes = {"input": arrays[0].shape, "target": arrays[1].shape}
    return [None if a is None else np.broadcast_to(a, shape) for a in arrays], shapes


def _weighted_mean_denominator(reduction, weight):
    return float(np.sum(weight)) if (weight is not None and reduction == "mean") else None


def mse_loss(input, target, reduction="mean", weight=None, grad_output=None):
    """l = w (x - y)^2; with a weight, 'mean' is sum(w l) / sum(w)."""
    (x, y, w), shapes = _broadcast(input, target, weight)
    w = 1.0 if w is None else w
    d = x - y
    loss = w * d ** 2
    dl = {"input": 2 * w * d, "target": -2 * w * d}
    return reduce(loss, dl, reduction, grad_output, shapes, _weighted_mean_denominator(reduction, weight))


def l1_loss(input, target, reduction="mean", weight=None, grad_output=None):
    """l = w |x - y|; d/dx = w sign(x - y)."""
    (x, y, w), shapes = _broadcast(input, target, weight)
    w = 1.0 if w is None else w
    d = x - y
    loss = w * np.abs(d)
    dl = {"input": w * np.sign(d), "target": -w * np.sign(d)}
    return reduce(loss, dl, reduction, grad_output, shapes, _weighted_mean_denominator(reduction, weight))
