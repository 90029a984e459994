"""``torch.nn.functional``'s losses, computed by fastloss: tensors in, tensors out, autograd and
``torch.compile`` through the ``fastloss::`` custom operators (see ``_ops``).

Each function has torch's signature. Its body only maps the arguments onto the op (tensors,
then hyper-parameters); :func:`_bridge` runs the op, or torch's own function for tensors on a
device fastloss has no backend for (CUDA, until the GPU backend takes torch tensors).
"""
import functools

import torch
import torch.nn.functional as _torch_F
from torch.nn import _reduction as _torch_reduction

from . import _ops

__all__ = [
    "l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss",
    "gaussian_nll_loss", "hinge_embedding_loss", "multilabel_margin_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "cosine_embedding_loss", "margin_ranking_loss", "multi_margin_loss",
    "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss",
]


def _bridge(arguments):
    """Decorator: ``arguments(*args, **kwargs) -> (tensors, params)`` becomes the public function.

    ``arguments`` may instead return the loss itself (a tensor), where fastloss cannot run the
    call (a Python callable as the distance of the triplet loss: torch's composition runs it).
    """
    name = arguments.__name__
    torch_function = getattr(_torch_F, name)

    @functools.wraps(arguments)
    def function(*args, **kwargs):
        mapped = arguments(*args, **kwargs)
        if isinstance(mapped, torch.Tensor):
            return mapped
        loss = _ops.call(name, *mapped)
        return torch_function(*args, **kwargs) if loss is None else loss

    function.__doc__ = (f"``torch.nn.functional.{name}``, computed by fastloss (same signature, tensors in "
                        f"and out, differentiable by torch's autograd).\n\n" + (arguments.__doc__ or ""))
    return function


def _reduction(size_average, reduce, reduction):
    """torch's legacy ``size_average``/``reduce`` rule (and its deprecation warning)."""
    if size_average is not None or reduce is not None:
        return _torch_reduction.legacy_get_string(size_average, reduce)
    return reduction


@_bridge
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return (input, target, weight), (_reduction(size_average, reduce, reduction),)


@_bridge
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    return (input, target, weight), (_reduction(size_average, reduce, reduction),)


@_bridge
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    return (input, target), (_reduction(size_average, reduce, reduction), float(beta))


@_bridge
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    return (input, target, weight), (reduction, float(delta))


@_bridge
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    return (input, target, weight), (int(ignore_index), _reduction(size_average, reduce, reduction))


@_bridge
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    return (input, target, weight), (int(ignore_index), _reduction(size_average, reduce, reduction),
                                     float(label_smoothing))


@_bridge
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    return (input, target, weight), (_reduction(size_average, reduce, reduction),)


@_bridge
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    return (input, target, weight, pos_weight), (_reduction(size_average, reduce, reduction),)


@_bridge
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    return (input, target), (_reduction(size_average, reduce, reduction), bool(log_target))


@_bridge
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    return (input, target), (bool(log_input), bool(full), float(eps), _reduction(size_average, reduce, reduction))


@_bridge
def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """A float ``var`` stands for that value everywhere (no gradient)."""
    if isinstance(var, torch.Tensor):
        return (input, target, var), (0.0, bool(full), float(eps), reduction)
    return (input, target, None), (float(var), bool(full), float(eps), reduction)


@_bridge
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    return (input, target), (float(margin), _reduction(size_average, reduce, reduction))


@_bridge
def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    return (input, target), (_reduction(size_average, reduce, reduction),)


@_bridge
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    return (input, target), (_reduction(size_average, reduce, reduction),)


@_bridge
def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    return (input, target, weight), (_reduction(size_average, reduce, reduction),)


@_bridge
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    return (input1, input2, target), (float(margin), _reduction(size_average, reduce, reduction))


@_bridge
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    return (input1, input2, target), (float(margin), _reduction(size_average, reduce, reduction))


@_bridge
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    return (input, target, weight), (int(p), float(margin), _reduction(size_average, reduce, reduction))


@_bridge
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    return (anchor, positive, negative), (float(margin), float(p), float(eps), bool(swap),
                                          _reduction(size_average, reduce, reduction))


@_bridge
def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """The op carries the built-in distances: ``None`` (the Euclidean pairwise distance),
    ``torch.nn.PairwiseDistance`` (keepdim=False), ``torch.nn.functional.pairwise_distance`` and
    ``fastloss.torch.nn.CosineDistance``. Any other callable is torch code that only torch can
    differentiate: the loss is then torch's own composition around it (same value, torch's autograd).
    """
    distance = _builtin_distance(distance_function)
    if distance is None:
        return _torch_F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                          distance_function=distance_function, margin=margin,
                                                          swap=swap, reduction=reduction)
    return (anchor, positive, negative), (*distance, float(margin), bool(swap), reduction)


def _builtin_distance(fn):
    """``(kind, p, eps)`` for a distance the op implements, else None."""
    from .nn import CosineDistance

    if fn is None or fn is _torch_F.pairwise_distance:
        return "pairwise", 2.0, 1e-6
    if type(fn) is torch.nn.PairwiseDistance and not fn.keepdim:
        return "pairwise", float(fn.norm), float(fn.eps)
    if type(fn) is CosineDistance:
        return "cosine", 2.0, float(fn.eps)
    return None


def _lengths(lengths):
    """CTC lengths as a tensor (torch accepts tuples and lists of ints too)."""
    return lengths if isinstance(lengths, torch.Tensor) else torch.as_tensor(lengths, dtype=torch.long)


@_bridge
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """The gradient follows torch's convention: ``exp(log_probs) - posterior`` (the gradient with
    respect to the logits when log_probs = log_softmax(logits)), not the plain partial derivative."""
    return (log_probs, targets, _lengths(input_lengths), _lengths(target_lengths)), (int(blank), reduction,
                                                                                     bool(zero_infinity))
