"""References of the classification losses, in float64, written from torch's documented formulas.

nll_loss and cross_entropy share one form: each sample n has a non-negative coefficient vector
``a_n`` over the classes and a log-probability vector ``logp_n``, and

    loss_n = -sum_c a_{n,c} logp_{n,c}

* nll_loss: ``logp = input`` and ``a = w_t e_t`` (0 for an ignored target); d loss / d input = -a.
* cross_entropy: ``logp = log_softmax(input)`` over the class axis, ``a = (1 - eps) w_t e_t + eps / C * w``
  for class indices (0 when ignored), ``a = w * ((1 - eps) y + eps / C)`` for probabilities;
  d loss / d input = (sum_c a_c) softmax(input) - a, and for probabilities
  d loss / d target = -(1 - eps) w logp.

'mean' divides by sum_n w_{t_n} over non-ignored targets for class indices (both the nll and the
smoothing term, as torch does), by the number of samples for probabilities.
"""
import numpy as np

from ._common import sum_to


def _class_last(x):
    """(C,), (N, C) or (N, C, d1, ...) -> (samples, C) with the class axis last, and the loss shape."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return x[None, :], ()
    moved = np.moveaxis(x, 1, -1)
    return moved.reshape(-1, x.shape[1]), moved.shape[:-1]


def _class_first(g, shape):
    """Inverse of :func:`_class_last` for a gradient of the input's ``shape``."""
    if len(shape) == 1:
        return g[0]
    moved_shape = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(g.reshape(moved_shape), -1, 1)


def _log_softmax(x):
    m = np.max(x, axis=1, keepdims=True)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def _index_coefficients(target, C, weight, ignore_index, eps):
    t = np.asarray(target).reshape(-1).astype(np.int64)
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    keep = t != ignore_index
    a = np.zeros((t.size, C))
    rows = np.nonzero(keep)[0]
    a[rows, t[rows]] = (1 - eps) * w[t[rows]]
    if eps:
        a[rows] += eps / C * w
    denominator = float(np.sum(w[t[rows]]))
    return a, denominator, keep


def _reduce(per_sample, a_grad, loss_shape, reduction, denominator, grad_output):
    """Reduce ``per_sample`` losses; returns (value, per-sample gradient multipliers)."""
    if reduction == "none":
        value = per_sample.reshape(loss_shape)
        go = np.ones(per_sample.shape) if grad_output is None else \
            np.broadcast_to(np.asarray(grad_output, np.float64), loss_shape).reshape(-1)
        return value, go
    scale = 1.0 if reduction == "sum" else (1.0 / denominator if denominator else np.nan)
    value = np.sum(per_sample) * scale if per_sample.size or reduction == "sum" else np.nan
    g = 1.0 if grad_output is None else float(np.asarray(grad_output))
    return np.asarray(value), np.full(per_sample.shape, g * scale)


def _check_index_target(target, C, ignore_index):
    t = np.asarray(target)
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if np.any(bad):
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean", grad_output=None):
    """loss_n = -w_{t_n} x_{n, t_n} (0 where ignored); 'mean' divides by sum of w_{t_n} over kept targets."""
    x, loss_shape = _class_last(input)
    C = x.shape[1]
    _check_index_target(target, C, ignore_index)
    a, denominator, keep = _index_coefficients(target, C, weight, ignore_index, 0.0)
    per_sample = -np.sum(a * x, axis=1)
    value, go = _reduce(per_sample, a, loss_shape, reduction, denominator, grad_output)
    # only the target entry of a kept sample carries a gradient (a nan scale stays there, as in torch)
    grad = np.zeros_like(x)
    rows = np.nonzero(keep)[0]
    t = np.asarray(target).reshape(-1).astype(np.int64)
    grad[rows, t[rows]] = -a[rows, t[rows]] * go[rows]
    return np.asarray(value, dtype=np.float64), {"input": _class_first(grad, np.shape(input))}


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                  grad_output=None):
    """Cross entropy of logits with class-index or class-probability targets (see the module doc)."""
    x, loss_shape = _class_last(input)
    C = x.shape[1]
    eps = float(label_smoothing)
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    target = np.asarray(target)
    probabilities = target.dtype.kind == "f"
    if probabilities:
        y, _ = _class_last(target)
        smoothed = (1 - eps) * y + eps / C
        a = w * smoothed
        denominator = float(x.shape[0])
        keep = np.ones(x.shape[0], dtype=bool)
    else:
        _check_index_target(target, C, ignore_index)
        a, denominator, keep = _index_coefficients(target, C, weight, ignore_index, eps)
    logp = _log_softmax(x)
    per_sample = -np.sum(a * logp, axis=1)
    value, go = _reduce(per_sample, a, loss_shape, reduction, denominator, grad_output)
    p = np.exp(logp)
    grad = (np.sum(a, axis=1, keepdims=True) * p - a) * go[:, None]
    grad[~keep] = 0.0  # an ignored sample has no gradient, whatever the scale (nan included)
    grads = {"input": _class_first(grad, np.shape(input))}
    if probabilities:
        grads["target"] = _class_first(-(1 - eps) * w * logp * go[:, None], np.shape(input))
    return np.asarray(value, dtype=np.float64), grads


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean", grad_output=None):
    """l = -(y log sigmoid(x) + (1 - y) log sigmoid(-x)) * w in the broadcast shape, summed over
    axis ``input.ndim - 1`` (torch's class_dim, counted from the front) and divided by
    ``input.shape[-1]``; then reduced. d/dx = w (sigmoid(x) - y) / C, d/dy = -w x / C."""
    x = np.asarray(input, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    w = np.ones(()) if weight is None else np.asarray(weight, dtype=np.float64)
    shape = np.broadcast_shapes(x.shape, y.shape, w.shape)
    X, Y, W = (np.broadcast_to(a, shape) for a in (x, y, w))
    axis = x.ndim - 1
    C = x.shape[-1]
    log_sig = -np.logaddexp(0.0, -X)      # log sigmoid(x)
    log_sig_neg = -np.logaddexp(0.0, X)   # log sigmoid(-x)
    elem = -(Y * log_sig + (1 - Y) * log_sig_neg) * W
    per_sample = np.sum(elem, axis=axis) / C
    if reduction == "none":
        value = per_sample
        go = np.ones(per_sample.shape) if grad_output is None else \
            np.broadcast_to(np.asarray(grad_output, np.float64), per_sample.shape)
    else:
        scale = 1.0 if reduction == "sum" else 1.0 / per_sample.size if per_sample.size else np.nan
        value = np.sum(per_sample) * scale
        g = 1.0 if grad_output is None else float(np.asarray(grad_output))
        go = np.full(per_sample.shape, g * scale)
    go = np.expand_dims(go, axis)
    sig = 1.0 / (1.0 + np.exp(-X))
    grads = {"input": sum_to(W * (sig - Y) / C * go, x.shape),
             "target": sum_to(-W * X / C * go, y.shape)}
    return np.asarray(value, dtype=np.float64), grads
