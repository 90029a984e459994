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


def _weighted(unweighted, dl, weight, w, reduction, grad_output, shapes):
    """Reduce ``w * unweighted``; with a weight, 'mean' is sum(w l) / sum(w) and the weight's
    gradient is l (for 'mean': (l - L) / sum(w), L the mean)."""
    if w is None:
        return reduce(unweighted, dl, reduction, grad_output, shapes)
    dl = {k: w * v for k, v in dl.items()}
    dl["weight"] = unweighted
    shapes = dict(shapes, weight=np.shape(weight))
    denominator = _weighted_mean_denominator(reduction, weight)
    value, grads = reduce(w * unweighted, dl, reduction, grad_output, shapes, denominator)
    if reduction == "mean":
        g = 1.0 if grad_output is None else float(np.asarray(grad_output))
        grads["weight"] = grads["weight"] - g * float(value) / denominator
    return value, grads


def mse_loss(input, target, reduction="mean", weight=None, grad_output=None):
    """l = w (x - y)^2; with a weight, 'mean' is sum(w l) / sum(w)."""
    (x, y, w), shapes = _broadcast(input, target, weight)
    d = x - y
    return _weighted(d ** 2, {"input": 2 * d, "target": -2 * d}, weight, w, reduction, grad_output, shapes)


def l1_loss(input, target, reduction="mean", weight=None, grad_output=None):
    """l = w |x - y|; d/dx = w sign(x - y)."""
    (x, y, w), shapes = _broadcast(input, target, weight)
    d = x - y
    return _weighted(np.abs(d), {"input": np.sign(d), "target": -np.sign(d)}, weight, w, reduction, grad_output,
                     shapes)


def _sign(d):
    return np.sign(d)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0, grad_output=None):
    """l = d^2 / (2 beta) where |d| < beta, else |d| - beta / 2 (beta = 0: |d|); d = x - y."""
    (x, y), shapes = _broadcast(input, target)
    d = x - y
    if beta == 0:
        loss, dx = np.abs(d), _sign(d)
    else:
        inner = np.abs(d) < beta
        loss = np.where(inner, 0.5 * d ** 2 / beta, np.abs(d) - 0.5 * beta)
        dx = np.where(inner, d / beta, _sign(d))
    return reduce(loss, {"input": dx, "target": -dx}, reduction, grad_output, shapes)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None, grad_output=None):
    """l = w d^2 / 2 where |d| < delta, else w delta (|d| - delta / 2); 'mean' divides by numel."""
    (x, y, w), shapes = _broadcast(input, target, weight)
    d = x - y
    inner = np.abs(d) < delta
    u = np.where(inner, 0.5 * d ** 2, delta * (np.abs(d) - 0.5 * delta))
    du = np.where(inner, d, delta * _sign(d))
    wv = 1.0 if w is None else w
    dl = {"input": wv * du, "target": -wv * du}
    if w is not None:
        dl["weight"] = u
        shapes["weight"] = np.shape(weight)
    return reduce(wv * u, dl, reduction, grad_output, shapes)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def soft_margin_loss(input, target, reduction="mean", grad_output=None):
    """l = log(1 + exp(-y x)); d/dx = -y sigmoid(-y x)."""
    (x, y), shapes = _broadcast(input, target)
    z = -y * x
    loss = np.logaddexp(0.0, z)
    return reduce(loss, {"input": -y * _sigmoid(z)}, reduction, grad_output, shapes)


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean", grad_output=None):
    """l = x where y = 1, max(0, margin - x) where y = -1; other targets get both terms (torch)."""
    (x, y), shapes = _broadcast(input, target)
    hinge = np.maximum(margin - x, 0.0)
    loss = np.where(y != 1, hinge, 0.0) + np.where(y != -1, x, 0.0)
    dx = np.where(y != 1, np.where(margin - x >= 0, -1.0, 0.0), 0.0) + np.where(y != -1, 1.0, 0.0)
    return reduce(loss, {"input": dx}, reduction, grad_output, shapes)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean", grad_output=None):
    """l = max(0, -y (x1 - x2) + margin)."""
    x1, x2, y = f64(input1, input2, target)
    shape = np.broadcast_shapes(x1.shape, x2.shape, y.shape)
    shapes = {"input1": x1.shape, "input2": x2.shape, "target": y.shape}
    x1, x2, y = (np.broadcast_to(a, shape) for a in (x1, x2, y))
    v = -y * (x1 - x2) + margin
    active = (v >= 0).astype(np.float64)
    dl = {"input1": -y * active, "input2": y * active, "target": -(x1 - x2) * active}
    return reduce(np.maximum(v, 0.0), dl, reduction, grad_output, shapes)


def binary_cross_entropy(input, target, weight=None, reduction="mean", grad_output=None):
    """l = -w [y log x + (1 - y) log(1 - x)], each log clamped at -100.

    d/dx = w (x - y) / max(x (1 - x), 1e-12); d/dy = w [log(1 - x) - log x] (unclamped, as torch).
    """
    (x, y, w), shapes = _broadcast(input, target, weight)
    wv = 1.0 if w is None else w
    with np.errstate(divide="ignore"):
        log_x, log_1mx = np.log(x), np.log1p(-x)
    loss = -wv * (y * np.maximum(log_x, -100.0) + (1 - y) * np.maximum(log_1mx, -100.0))
    eps = float(np.float32(1e-12))  # torch's constant is a float
    dl = {"input": wv * (x - y) / np.maximum(x * (1 - x), eps), "target": wv * (log_1mx - log_x)}
    return reduce(loss, dl, reduction, grad_output, shapes)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None, grad_output=None):
    """l = -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))]  (p = pos_weight)."""
    (x, y, w, p), shapes = _broadcast(input, target, weight, pos_weight)
    wv = 1.0 if w is None else w
    pv = 1.0 if p is None else p
    log_sig = -np.logaddexp(0.0, -x)      # log sigmoid(x)
    log_sig_neg = -np.logaddexp(0.0, x)   # log(1 - sigmoid(x))
    loss = -wv * (pv * y * log_sig + (1 - y) * log_sig_neg)
    dx = -wv * (pv * y * _sigmoid(-x) - (1 - y) * _sigmoid(x))
    dy = -wv * (pv * log_sig - log_sig_neg)
    return reduce(loss, {"input": dx, "target": dy}, reduction, grad_output, shapes)


def kl_div(input, target, reduction="mean", log_target=False, grad_output=None):
    """l = y (log y - x), 0 where y = 0; log_target: exp(y) (y - x). 'batchmean' divides by input.shape[0].

    The target gradient log y + 1 - x is NaN where y = 0, as torch's autograd through xlogy gives.
    """
    (x, y), shapes = _broadcast(input, target)
    if log_target:
        loss = np.exp(y) * (y - x)
        dl = {"input": -np.exp(y), "target": np.exp(y) * (y - x + 1)}
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(y == 0, 0.0, y * np.log(np.where(y == 0, 1.0, y))) - y * x
            dy = np.where(y == 0, np.nan, np.log(y) + 1) - x
        dl = {"input": -y, "target": dy}
    if reduction == "batchmean":
        batch = np.shape(input)[0] if np.ndim(input) else 1
        return reduce(loss, dl, "mean", grad_output, shapes, denominator=batch)
    return reduce(loss, dl, reduction, grad_output, shapes)


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean", grad_output=None):
    """l = exp(x) - y x (log_input) or x - y log(x + eps); full adds y log y - y + log(2 pi y) / 2 where y > 1."""
    (x, y), shapes = _broadcast(input, target)
    if log_input:
        loss, dx, dy = np.exp(x) - y * x, np.exp(x) - y, -x
    else:
        loss, dx, dy = x - y * np.log(x + eps), 1 - y / (x + eps), -np.log(x + eps)
    if full:
        big = y > 1
        ys = np.where(big, y, 2.0)
        loss = loss + np.where(big, ys * np.log(ys) - ys + 0.5 * np.log(2 * np.pi * ys), 0.0)
        # torch's autograd through the masked term: 0 * log(y) is NaN for y <= 0
        dy = dy + np.where(big, np.log(ys) + 0.5 / ys, np.where(y > 0, 0.0, np.nan))
    return reduce(loss, {"input": dx, "target": dy}, reduction, grad_output, shapes)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean", grad_output=None):
    """l = (log v + (x - y)^2 / v) / 2 (+ log(2 pi) / 2 if full), v = max(var, eps).

    var of the input's shape without its last dimension is unsqueezed; the var gradient
    (1/v - (x - y)^2 / v^2) / 2 is taken at the clamped v (torch clamps under no_grad).
    """
    x, y = f64(input, target)
    var_shape = None
    if isinstance(var, float):
        v = np.full(x.shape, var)
    else:
        v = np.asarray(var, dtype=np.float64)
        var_shape = v.shape
        if v.shape != x.shape and x.shape[:-1] == v.shape:
            v = v[..., None]
    shape = np.broadcast_shapes(x.shape, y.shape, v.shape)
    shapes = {"input": x.shape, "target": y.shape, "var": v.shape}
    x, y, v = (np.broadcast_to(a, shape) for a in (x, y, v))
    vc = np.maximum(v, eps)
    d = x - y
    loss = 0.5 * (np.log(vc) + d ** 2 / vc) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    dl = {"input": d / vc, "target": -d / vc}
    if var_shape is not None:
        dl["var"] = 0.5 * (1 / vc - d ** 2 / vc ** 2)
    value, grads = reduce(loss, dl, reduction, grad_output, shapes)
    if "var" in grads:
        grads["var"] = grads["var"].reshape(var_shape)
    return value, grads
