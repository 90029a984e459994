"""Reduction and broadcasting rules shared by the references."""
import numpy as np


def f64(*arrays):
    return [None if a is None else np.asarray(a, dtype=np.float64) for a in arrays]


def sum_to(g, shape):
    """Sum a broadcast-shaped gradient back to ``shape``."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


def reduce(loss, dloss, reduction, grad_output=None, shapes=None, denominator=None):
    """Reduce elementwise ``loss`` and chain elementwise derivatives ``dloss`` ({name: dl/dname}).

    'mean' divides by ``denominator`` (default: the number of elements). ``shapes`` maps a name
    to its argument's shape when it was broadcast.
    """
    if reduction == "none":
        value = loss
        go = (np.ones_like(loss) if grad_output is None
              else np.broadcast_to(np.asarray(grad_output, np.float64), loss.shape))
    else:
        denom = loss.size if denominator is None else denominator
        scale = 1.0 if reduction == "sum" else 1.0 / denom
        value = np.sum(loss) * scale
        g = 1.0 if grad_output is None else float(np.asarray(grad_output))
        go = np.full(loss.shape, g * scale)
    grads = {}
    for name, d in dloss.items():
        g = d * go
        if shapes and name in shapes:
            g = sum_to(g, shapes[name])
        grads[name] = g
    return np.asarray(value, dtype=np.float64), grads
