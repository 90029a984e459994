"""References of the class-margin losses, written from torch's documented formulas (and its kernel's
known deviations, see TORCH_NOTES): plain loops over samples, float64, analytic gradients."""
import numpy as np

from ._common import f64


def _as_rows(input, target, target_per_class):
    """(x rows (N, C), targets, batch shape of the 'none' loss) for input (N, C), (C,) or 0-d."""
    x = f64(input)[0]
    t = np.asarray(target, dtype=np.int64)
    if x.ndim == 2:
        batch = (x.shape[0],)
    elif target_per_class:
        batch = ()
    else:
        batch = t.shape
    C = x.shape[-1] if x.ndim else 1
    return x.reshape(-1, C), (t.reshape(-1, C) if target_per_class else t.reshape(-1)), batch


def _reduce_rows(losses, grads, batch, reduction, grad_output, input_shape):
    """Reduce per-sample losses; ``grads[n]`` is d losses[n] / d x[n] (a row)."""
    n = len(losses)
    if reduction == "none":
        value = np.asarray(losses, dtype=np.float64).reshape(batch)
        go = (np.ones(n) if grad_output is None
              else np.broadcast_to(np.asarray(grad_output, np.float64), batch).reshape(n))
    else:
        scale = 1.0 if reduction == "sum" else (1.0 / n if n else np.nan)
        value = np.asarray(np.sum(losses) * scale)
        g = 1.0 if grad_output is None else float(np.asarray(grad_output))
        go = np.full(n, g * scale)
    grad = np.array([g * row for g, row in zip(go, grads)]).reshape(input_shape) if n else np.zeros(input_shape)
    return value, {"input": grad}


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean", grad_output=None):
    """l_n = sum_{i != y} w[y] * max(0, margin - x[y] + x[i])^p / C (weight after the power, as torch)."""
    x, y, batch = _as_rows(input, target, target_per_class=False)
    C = x.shape[1]
    w = np.ones(C) if weight is None else np.asarray(weight, dtype=np.float64)
    losses, grads = [], []
    for row, t in zip(x, y):
        loss, grad = 0.0, np.zeros(C)
        for i in range(C):
            if i == t:
                continue
            z = margin - row[t] + row[i]
            if z > 0:
                loss += w[t] * z ** p / C
                dz = w[t] * p * z ** (p - 1) / C
                grad[i] += dz
                grad[t] -= dz
        losses.append(loss)
        grads.append(grad)
    return _reduce_rows(losses, grads, batch, reduction, grad_output, np.shape(input))


def multilabel_margin_loss(input, target, reduction="mean", grad_output=None):
    """l_n = sum_{j in J} sum_{i not in J} max(0, 1 - (x[j] - x[i])) / C, J = targets before the first -1
    (a repeated target counts again in the outer sum, as torch's loop does)."""
    x, y, batch = _as_rows(input, target, target_per_class=True)
    C = x.shape[1]
    losses, grads = [], []
    for row, targets in zip(x, y):
        J = []
        for t in targets:
            if t < 0:
                break
            J.append(int(t))
        loss, grad = 0.0, np.zeros(C)
        for j in J:
            for i in range(C):
                if i in J:
                    continue
                z = 1.0 - row[j] + row[i]
                if z > 0:
                    loss += z / C
                    grad[i] += 1.0 / C
                    grad[j] -= 1.0 / C
        losses.append(loss)
        grads.append(grad)
    return _reduce_rows(losses, grads, batch, reduction, grad_output, np.shape(input))
