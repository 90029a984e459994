"""Differentiable distances for ``triplet_margin_with_distance_loss`` (and standalone use).

The distance protocol
---------------------
``triplet_margin_with_distance_loss(distance_function=...)`` accepts any callable
``d(x1, x2) -> array`` for the forward value (as torch does). For gradients (``value_and_grad``)
the distance must also know its own vector-Jacobian product::

    class MyDistance:
        def __call__(self, x1, x2):            # -> distances, shape of the broadcast batch
            ...
        def value_and_vjp(self, x1, x2):       # -> (distances, vjp)
            ...                                #    vjp(grad_d) -> (grad_x1, grad_x2), shaped like x1, x2

``grad_d`` has the distances' shape; ``grad_x1``/``grad_x2`` are the gradients of
``sum(d * grad_d)``. :class:`Distance` is that protocol as a base class (``__call__`` comes for
free from ``value_and_vjp``); :class:`PairwiseDistance` and :class:`CosineDistance` implement it,
and :func:`is_differentiable_distance` is how the losses recognise one.
"""
import numpy as np

from .. import _backend
from .._validation import as_bool, as_float, broadcast_shape, float_operands
from ._common import finish_grad, threads_for

__all__ = ["Distance", "PairwiseDistance", "CosineDistance", "is_differentiable_distance", "norm_kind",
           "pairwise_distance"]

# Must match the NORM_* enum of _cpu/embedding.pyx: torch's norm_backward cases.
_NORM_ZERO, _NORM_ONE, _NORM_TWO, _NORM_INF, _NORM_NEG_INF, _NORM_BELOW_ONE, _NORM_GENERAL = range(7)


def norm_kind(p):
    """The kernel's norm case for the order ``p`` (a float)."""
    if p == 0:
        return _NORM_ZERO
    if p == 1:
        return _NORM_ONE
    if p == 2:
        return _NORM_TWO
    if p == np.inf:
        return _NORM_INF
    if p == -np.inf:
        return _NORM_NEG_INF
    return _NORM_BELOW_ONE if p < 1 else _NORM_GENERAL


def is_differentiable_distance(obj):
    """True when ``obj`` follows the distance protocol (has ``value_and_vjp``)."""
    return callable(getattr(obj, "value_and_vjp", None))


class Distance:
    """Base class of the distance protocol: implement ``value_and_vjp(x1, x2) -> (d, vjp)``."""

    def value_and_vjp(self, x1, x2):
        raise NotImplementedError

    def __call__(self, x1, x2):
        return self.value_and_vjp(x1, x2)[0]

    def forward(self, x1, x2):
        return self(x1, x2)


def _rows(x, shape):
    """``x`` broadcast to ``shape`` (..., D) as a 2-D strided view (rows, D)."""
    if len(shape) == 2 and x.shape == shape:
        return x  # the common case: nothing to broadcast (broadcast_to costs a microsecond)
    b = _backend.array_module(x).broadcast_to(x, shape)
    if len(shape) == 2:
        return b
    if len(shape) < 2:
        return b.reshape(1, shape[-1] if shape else 1)
    return b.reshape(-1, shape[-1])


def _pair_operands(x1, x2):
    """Coerced operands and the broadcast shape (..., D) of a row-wise distance."""
    arrays, originals, out_dtype, _ = float_operands({"x1": x1, "x2": x2}, allow_integer=("x1", "x2"))
    shape = broadcast_shape([arrays["x1"].shape, arrays["x2"].shape], ["x1", "x2"])
    return arrays, originals, out_dtype, shape


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False, _vjp=False):
    r"""``torch.nn.functional.pairwise_distance``: :math:`\|x_1 - x_2 + \epsilon\|_p` over the last
    dimension of the broadcast shape.

    With ``_vjp`` True returns ``(d, vjp)``; ``vjp(grad_d) -> (grad_x1, grad_x2)``, following
    torch's norm_backward (p = 2: ``diff / d``, 0 where d = 0; p = inf: split evenly among the
    maximal entries; p = 0: no gradient; ...).
    """
    p = as_float(p, "p")
    eps = as_float(eps, "eps")
    keepdim = as_bool(keepdim, "keepdim")
    arrays, originals, out_dtype, shape = _pair_operands(x1, x2)
    a, b = _rows(arrays["x1"], shape), _rows(arrays["x2"], shape)
    rows, D = a.shape
    batch = shape[:-1] + ((1,) if keepdim and shape else ())
    kernels = _backend.kernels("embedding", a)
    xp = _backend.array_module(a)
    kind = norm_kind(p)
    dist = xp.empty(rows, dtype=np.float64)
    kernels.pairwise_distance(a, b, p, kind, eps, dist, None, None, None, threads_for(rows * D))
    value = dist.reshape(batch).astype(out_dtype)
    if not _vjp:
        return value

    def vjp(grad_d):
        gd = xp.ascontiguousarray(xp.broadcast_to(xp.asarray(grad_d, dtype=np.float64), batch).reshape(rows))
        g1 = xp.empty((rows, D), dtype=a.dtype)
        g2 = xp.empty((rows, D), dtype=a.dtype)
        kernels.pairwise_distance(a, b, p, kind, eps, dist, g1, g2, gd, threads_for(rows * D))
        return (finish_grad(g1.reshape(shape), originals["x1"]), finish_grad(g2.reshape(shape), originals["x2"]))

    return value, vjp


class PairwiseDistance(Distance):
    r"""``torch.nn.PairwiseDistance(p=2.0, eps=1e-6, keepdim=False)``: :math:`\|x_1 - x_2 + \epsilon\|_p`
    over the last dimension, with its gradient (the distance protocol)."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        self.norm = as_float(p, "p")
        self.eps = as_float(eps, "eps")
        self.keepdim = as_bool(keepdim, "keepdim")

    def __call__(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def value_and_vjp(self, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim, _vjp=True)

    def __repr__(self):
        return f"PairwiseDistance(p={self.norm!r}, eps={self.eps!r}, keepdim={self.keepdim!r})"


class CosineDistance(Distance):
    r"""``1 - cosine_similarity(x1, x2, dim=-1, eps)`` with torch's
    ``cosine_similarity = <x1, x2> / (max(|x1|, eps) max(|x2|, eps))``.

    Gradient, as torch's autograd gives it (torch clamps the norms in place outside autograd, so
    the norm's own derivative ``x/|x|`` is still used below eps, and masked to 0 at a zero norm):
    with :math:`N_k = \max(|x_k|, \epsilon)`,
    :math:`\partial \cos/\partial x_1 = x_2/(N_1 N_2) - [|x_1| > 0]\cos\,x_1/(|x_1| N_1)`, and
    symmetrically for :math:`x_2`; the distance's gradient is its negative.
    """

    def __init__(self, eps=1e-8):
        self.eps = as_float(eps, "eps")

    def value_and_vjp(self, x1, x2):
        arrays, originals, out_dtype, shape = _pair_operands(x1, x2)
        xp = _backend.array_module(arrays["x1"])  # NumPy or CuPy: no kernel, array operations only
        u = xp.broadcast_to(arrays["x1"], shape).astype(np.float64)
        v = xp.broadcast_to(arrays["x2"], shape).astype(np.float64)
        axis = -1 if shape else None
        n1 = xp.sqrt(xp.sum(u * u, axis=axis, keepdims=True))
        n2 = xp.sqrt(xp.sum(v * v, axis=axis, keepdims=True))
        c1, c2 = xp.maximum(n1, self.eps), xp.maximum(n2, self.eps)
        cos = xp.sum(u * v, axis=axis, keepdims=True) / (c1 * c2)
        value = (1.0 - cos).reshape(shape[:-1]).astype(out_dtype)

        def vjp(grad_d):
            g = -xp.broadcast_to(xp.asarray(grad_d, dtype=np.float64), shape[:-1])[..., None] if shape else \
                -xp.asarray(grad_d, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                k1 = xp.where(n1 > 0, cos / (n1 * c1), 0.0)
                k2 = xp.where(n2 > 0, cos / (n2 * c2), 0.0)
            g1 = g * (v / (c1 * c2) - k1 * u)
            g2 = g * (u / (c1 * c2) - k2 * v)
            return finish_grad(g1, originals["x1"]), finish_grad(g2, originals["x2"])

        return value, vjp

    def __repr__(self):
        return f"CosineDistance(eps={self.eps!r})"
