"""Module classes: one per ``torch.nn.modules.loss`` entry, with torch's constructor arguments.

Modules are thin, as torch's are: they hold hyper-parameters, and a call is one call into
:mod:`fastloss.functional` with torch's forward arguments (positional, or by torch's names:
``crit(input=x, target=y)``; ``log_input`` for PoissonNLLLoss, ``log_probs``, ``targets``, ...
for CTCLoss). ``backward(grad_output=None)`` returns the gradient dict of the last call (the
NumPy "layer" convention: forward, then backward).

    crit = fastloss.nn.CrossEntropyLoss(label_smoothing=0.1)
    loss = crit(logits, labels)
    grads = crit.backward()          # {'input': d loss / d logits}

How backward reuses the forward's work
--------------------------------------
A module notices whether ``backward()`` follows its calls. Once it has (a training loop), each
call runs the fused forward+gradient kernel (:func:`fastloss.value_and_grad`) and keeps the
gradients, which the following ``backward()`` hands over: a training step costs one fused call.
A call not followed by ``backward()`` switches the module back to plain forward calls (an
evaluation loop pays for gradients at most once, on its first call). Gradients kept from the
fused call are those of the inputs as they were at the call, whatever happens to the arrays
afterwards. When ``backward()`` has to compute them itself (after a plain forward call, a
second ``backward()``, or with a ``grad_output``), it recomputes the loss from the arrays of the
last call and raises RuntimeError if that loss differs from the one returned then: the inputs
were modified in place in between (torch raises for that too), and their gradients would not
belong to the loss the caller holds. (A ``'none'`` loss is compared as the returned array itself,
to keep calls free of copies: modifying it in place before such a ``backward()`` raises too.)
"""
import warnings

import numpy as np

from . import _backend
from . import functional as F
from ._autograd import value_and_grad
from ._losses.embedding import _check_margin_positive
from ._reduction import legacy_reduction
from ._validation import check_real

__all__ = [
    "L1Loss", "NLLLoss", "NLLLoss2d", "PoissonNLLLoss", "GaussianNLLLoss", "KLDivLoss", "MSELoss", "BCELoss",
    "BCEWithLogitsLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "SmoothL1Loss", "HuberLoss",
    "SoftMarginLoss", "CrossEntropyLoss", "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss",
    "MarginRankingLoss", "MultiMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss", "CTCLoss",
    "PairwiseDistance", "CosineDistance", "Distance",  # noqa: F822 (module __getattr__ below)
]

_MISSING = object()


class _Loss:
    """Base class: ``function`` names the functional loss, ``inputs`` torch's forward argument names
    (in the functional's positional order); ``_options()`` gives the functional's keyword arguments."""

    function = None
    inputs = ("input", "target")

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        if size_average is not None or reduce is not None:
            reduction = legacy_reduction(size_average, reduce)
        self.reduction = reduction
        self._last_inputs = None
        self._last_loss = None
        self._grads = None              # from the last call's fused kernel, until backward() takes them
        self._expect_backward = False   # backward() followed the last call: fuse the next one

    def _options(self):
        return {"reduction": self.reduction}

    def __call__(self, *inputs, **named):
        return self.forward(*inputs, **named)

    def forward(self, *inputs, **named):
        if named:
            inputs = self._bind(inputs, named)
        fused = self._expect_backward
        self._expect_backward = False
        self._last_inputs = inputs
        self._grads = None
        if fused:
            loss, self._grads = value_and_grad(self.function, *inputs, **self._options())
        else:
            loss = getattr(F, self.function)(*inputs, **self._options())
        self._last_loss = loss[()] if loss.ndim == 0 else loss  # a reduced loss as an immutable scalar
        return loss

    def backward(self, grad_output=None):
        """Gradients of the last call's loss (times ``grad_output``) with respect to its inputs."""
        if self._last_inputs is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before a forward call")
        self._expect_backward = True
        grads, self._grads = self._grads, None
        if grads is not None and grad_output is None:
            return grads
        loss, grads = value_and_grad(self.function, *self._last_inputs, grad_output=grad_output,
                                     **self._options())
        if not _same(loss, self._last_loss):
            # the fused kernel may round the loss differently: only the plain forward tells for sure
            again = getattr(F, self.function)(*self._last_inputs, **self._options())
            if not _same(again, self._last_loss):
                raise RuntimeError(
                    f"{type(self).__name__}.backward(): the inputs of the last call were modified in place "
                    f"after it (its loss no longer matches the returned one, unless that array was modified), "
                    f"so their gradients would not be those of that loss. Call the module again on the "
                    f"current inputs, then backward().")
        return grads

    def _bind(self, args, named):
        """``args`` and torch's forward keyword arguments ``named`` as one positional tuple."""
        names = self.inputs
        cls = type(self).__name__
        if len(args) > len(names):
            raise TypeError(f"{cls}.forward() takes {len(names)} inputs ({', '.join(names)}), got {len(args)}")
        values = list(args) + [_MISSING] * (len(names) - len(args))
        for key, value in named.items():
            if key not in names:
                raise TypeError(f"{cls}.forward() got an unexpected keyword argument {key!r} "
                                f"(its inputs: {', '.join(names)})")
            i = names.index(key)
            if values[i] is not _MISSING:
                raise TypeError(f"{cls}.forward() got multiple values for argument {key!r}")
            values[i] = value
        missing = [n for n, v in zip(names, values) if v is _MISSING]
        if missing:
            raise TypeError(f"{cls}.forward() missing required input(s): {', '.join(missing)}")
        return tuple(values)

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options().items() if k != "weight" and k != "pos_weight")
        return f"{type(self).__name__}({opts})"


def _same(a, b):
    """Bit-for-bit equal losses (NaN equals NaN), shapes included (device losses: compared on the
    device, the answer read once)."""
    if np.shape(a) != np.shape(b):
        return False
    return bool(_backend.to_host(_backend.array_module(a).array_equal(a, b, equal_nan=True)))


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.weight = weight

    def _options(self):
        return {"weight": self.weight, "reduction": self.reduction}


class L1Loss(_Loss):
    function = "l1_loss"


class MSELoss(_Loss):
    function = "mse_loss"


class SmoothL1Loss(_Loss):
    function = "smooth_l1_loss"

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def _options(self):
        return {"reduction": self.reduction, "beta": self.beta}


class HuberLoss(_Loss):
    function = "huber_loss"

    def __init__(self, reduction="mean", delta=1.0):
        check_real(delta, "delta")  # torch refuses a non-real delta here, at construction
        super().__init__(reduction=reduction)
        self.delta = delta

    def _options(self):
        return {"reduction": self.reduction, "delta": self.delta}


class SoftMarginLoss(_Loss):
    function = "soft_margin_loss"


class HingeEmbeddingLoss(_Loss):
    function = "hinge_embedding_loss"

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def _options(self):
        return {"margin": self.margin, "reduction": self.reduction}


class MarginRankingLoss(_Loss):
    function = "margin_ranking_loss"
    inputs = ("input1", "input2", "target")

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def _options(self):
        return {"margin": self.margin, "reduction": self.reduction}


class BCELoss(_WeightedLoss):
    function = "binary_cross_entropy"


class BCEWithLogitsLoss(_Loss):
    function = "binary_cross_entropy_with_logits"

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    def _options(self):
        return {"weight": self.weight, "reduction": self.reduction, "pos_weight": self.pos_weight}


class KLDivLoss(_Loss):
    function = "kl_div"

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def _options(self):
        return {"reduction": self.reduction, "log_target": self.log_target}


class PoissonNLLLoss(_Loss):
    function = "poisson_nll_loss"
    inputs = ("log_input", "target")

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def _options(self):
        return {"log_input": self.log_input, "full": self.full, "eps": self.eps, "reduction": self.reduction}


class GaussianNLLLoss(_Loss):
    function = "gaussian_nll_loss"
    inputs = ("input", "target", "var")

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def _options(self):
        return {"full": self.full, "eps": self.eps, "reduction": self.reduction}


class NLLLoss(_WeightedLoss):
    function = "nll_loss"

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def _options(self):
        return {"weight": self.weight, "ignore_index": self.ignore_index, "reduction": self.reduction}


class NLLLoss2d(NLLLoss):
    """Deprecated alias of :class:`NLLLoss` (as in torch)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        warnings.warn("NLLLoss2d has been deprecated. Please use NLLLoss instead as a drop-in replacement "
                      "and see https://pytorch.org/docs/main/nn.html#torch.nn.NLLLoss for more details.",
                      DeprecationWarning, stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class CrossEntropyLoss(_WeightedLoss):
    function = "cross_entropy"

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def _options(self):
        return {"weight": self.weight, "ignore_index": self.ignore_index, "reduction": self.reduction,
                "label_smoothing": self.label_smoothing}


class MultiLabelMarginLoss(_Loss):
    function = "multilabel_margin_loss"


class MultiLabelSoftMarginLoss(_WeightedLoss):
    function = "multilabel_soft_margin_loss"


class MultiMarginLoss(_WeightedLoss):
    function = "multi_margin_loss"

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.p = p
        self.margin = margin

    def _options(self):
        return {"p": self.p, "margin": self.margin, "weight": self.weight, "reduction": self.reduction}


class CosineEmbeddingLoss(_Loss):
    function = "cosine_embedding_loss"
    inputs = ("input1", "input2", "target")

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def _options(self):
        return {"margin": self.margin, "reduction": self.reduction}


class TripletMarginLoss(_Loss):
    function = "triplet_margin_loss"
    inputs = ("anchor", "positive", "negative")

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        _check_margin_positive(margin)  # torch checks the margin at construction too
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def _options(self):
        return {"margin": self.margin, "p": self.p, "eps": self.eps, "swap": self.swap, "reduction": self.reduction}


class TripletMarginWithDistanceLoss(_Loss):
    function = "triplet_margin_with_distance_loss"
    inputs = ("anchor", "positive", "negative")

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        _check_margin_positive(margin)  # torch checks the margin at construction too
        self.distance_function = distance_function
        self.margin = margin
        self.swap = swap

    def _options(self):
        return {"distance_function": self.distance_function, "margin": self.margin, "swap": self.swap,
                "reduction": self.reduction}


class CTCLoss(_Loss):
    function = "ctc_loss"
    inputs = ("log_probs", "targets", "input_lengths", "target_lengths")

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def _options(self):
        return {"blank": self.blank, "reduction": self.reduction, "zero_infinity": self.zero_infinity}


def __getattr__(name):
    # PairwiseDistance lives with the distance functions (the embedding-loss family).
    if name in ("PairwiseDistance", "CosineDistance", "Distance"):
        from ._losses import distances

        return getattr(distances, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
