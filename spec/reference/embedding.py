"""References of the embedding losses and the pairwise distance, from torch's documented formulas:
plain float64 NumPy per sample, analytic gradients (torch's subgradient choices noted inline)."""
import numpy as np

from ._common import f64, sum_to

# torch's EPSILON in cosine_embedding_loss is a C++ float: 1e-12 rounded to float32.
COSINE_EPS = float(np.float32(1e-12))


def _norm_and_grad(d, p):
    """(||d||_p over the last axis, d||d||/dd) with torch's conventions at zeros and ties."""
    a = np.abs(d)
    s = np.sign(d)
    if p == 0:
        return np.sum(a != 0, axis=-1).astype(np.float64), np.zeros_like(d)
    if p == 1:
        return a.sum(-1), s
    if np.isinf(p):
        n = a.max(-1) if p > 0 else a.min(-1)
        mask = a == n[..., None]
        return n, s * mask / mask.sum(-1, keepdims=True)
    n = np.sum(a ** p, axis=-1) ** (1.0 / p)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = s * np.where(a == 0, 0.0, a ** (p - 1)) * n[..., None] ** (1 - p)
    # a zero norm has zero gradient (torch masks it); so has a zero component with p < 1
    g = np.where(n[..., None] == 0, 0.0, g) if p >= 1 else np.where(np.isfinite(g), g, 0.0)
    return n, g


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False, grad_output=None):
    """||x1 - x2 + eps||_p over the last dimension of the broadcast shape; returns (d, {x1, x2 grads})."""
    u, v = f64(x1, x2)
    shape = np.broadcast_shapes(u.shape, v.shape)
    d = np.broadcast_to(u, shape) - np.broadcast_to(v, shape) + eps
    d2 = d.reshape(1) if d.ndim == 0 else d
    n, g = _norm_and_grad(d2, p)
    n = n.reshape(shape[:-1]) if shape else n.reshape(())
    go = np.ones(n.shape) if grad_output is None else np.broadcast_to(np.asarray(grad_output, np.float64), n.shape)
    gd = (g.reshape(d.shape) * (go[..., None] if shape else go))
    value = n[..., None] if keepdim and shape else n
    return value, {"x1": sum_to(gd, u.shape), "x2": sum_to(-gd, v.shape)}


def _reduce(loss, reduction, grad_output):
    """Reduced value and the per-sample upstream gradient."""
    if reduction == "none":
        go = (np.ones(loss.shape) if grad_output is None
              else np.broadcast_to(np.asarray(grad_output, np.float64), loss.shape))
        return loss, go
    scale = 1.0 if reduction == "sum" else (1.0 / loss.size if loss.size else np.nan)
    g = 1.0 if grad_output is None else float(np.asarray(grad_output))
    return np.asarray(np.sum(loss) * scale), np.full(loss.shape, g * scale)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean", grad_output=None):
    """1 - cos (y = 1), max(0, cos - margin) (y = -1), 0 otherwise;
    cos = <x1, x2> / sqrt((|x1|^2 + eps)(|x2|^2 + eps)). The max passes the gradient at 0 (clamp_min)."""
    x1, x2, y = f64(input1, input2, target)
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    batch = np.broadcast_shapes(shape[:-1], y.shape)
    u = np.broadcast_to(x1, batch + shape[-1:])
    v = np.broadcast_to(x2, batch + shape[-1:])
    y = np.broadcast_to(y, batch)
    dot = np.sum(u * v, -1)
    m1 = np.sum(u * u, -1) + COSINE_EPS
    m2 = np.sum(v * v, -1) + COSINE_EPS
    denom = np.sqrt(m1 * m2)
    cos = dot / denom
    loss = np.where(y == 1, 1 - cos, np.where(y == -1, np.maximum(cos - margin, 0), 0.0))
    dcos = np.where(y == 1, -1.0, np.where((y == -1) & (cos - margin >= 0), 1.0, 0.0))
    value, go = _reduce(loss, reduction, grad_output)
    k = (dcos * go)[..., None]
    g1 = k * (v / denom[..., None] - cos[..., None] * u / m1[..., None])
    g2 = k * (u / denom[..., None] - cos[..., None] * v / m2[..., None])
    return value, {"input1": sum_to(g1, x1.shape), "input2": sum_to(g2, x2.shape)}


def _triplet(anchor, positive, negative, margin, dist, swap, reduction, grad_output):
    """max(0, margin + d(a, p) - d_neg); dist(x1, x2, grad_output) -> (d, {x1, x2 grads})."""
    a, p, n = f64(anchor, positive, negative)
    d_ap, _ = dist(a, p, None)
    d_an, _ = dist(a, n, None)
    d_neg, w_an = d_an, np.ones(np.shape(d_an))
    if swap:
        d_pn, _ = dist(p, n, None)
        d_neg = np.minimum(d_an, d_pn)
        # the minimum's gradient goes to the smaller distance; a tie splits it evenly (as torch)
        w_an = np.where(d_an < d_pn, 1.0, np.where(d_an == d_pn, 0.5, 0.0))
    v = margin + d_ap - d_neg
    loss = np.maximum(v, 0.0)
    value, go = _reduce(np.asarray(loss, dtype=np.float64), reduction, grad_output)
    up = np.where(v >= 0, go, 0.0)  # clamp_min passes the gradient at 0
    grads = {"anchor": 0.0, "positive": 0.0, "negative": 0.0}
    for (x1, x2, n1, n2), weight in [((a, p, "anchor", "positive"), 1.0), ((a, n, "anchor", "negative"), -w_an)] + (
            [((p, n, "positive", "negative"), -(1.0 - w_an))] if swap else []):
        _, g = dist(x1, x2, up * weight)
        grads[n1] = grads[n1] + g["x1"]
        grads[n2] = grads[n2] + g["x2"]
    shapes = {"anchor": a.shape, "positive": p.shape, "negative": n.shape}
    return value, {k: sum_to(np.broadcast_to(g, np.broadcast_shapes(np.shape(g), shapes[k])), shapes[k])
                   for k, g in grads.items()}


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, reduction="mean",
                        grad_output=None):
    """max(0, margin + ||a - p + eps||_p - ||a - n + eps||_p); swap: min with ||p - n + eps||_p
    (a tie splits the gradient between the two distances)."""
    def dist(x1, x2, go):
        return pairwise_distance(x1, x2, p, eps, grad_output=go)
    return _triplet(anchor, positive, negative, margin, dist, swap, reduction, grad_output)


def triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean", grad_output=None):
    """As triplet_margin_loss with pairwise_distance(p=2, eps=1e-6) by default; distance_function may be a
    (p, eps) pair for the p-norm."""
    p, eps = (2.0, 1e-6) if distance_function is None else distance_function

    def dist(x1, x2, go):
        return pairwise_distance(x1, x2, p, eps, grad_output=go)
    return _triplet(anchor, positive, negative, margin, dist, swap, reduction, grad_output)
