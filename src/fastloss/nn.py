"""Module classes: one per ``torch.nn.modules.loss`` entry, with torch's constructor arguments.

Modules are thin, as torch's are: they hold hyper-parameters, ``forward`` is one call into
:mod:`fastloss.functional`, and ``backward(grad_output=None)`` returns the gradient dict of the
last call (the NumPy "layer" convention: forward, then backward).

    crit = fastloss.nn.CrossEntropyLoss(label_smoothing=0.1)
    loss = crit(logits, labels)
    grads = crit.backward()          # {'input': d loss / d logits}
"""
import warnings

from . import functional as F
from ._autograd import value_and_grad
from ._reduction import legacy_reduction

__all__ = [
    "L1Loss", "NLLLoss", "NLLLoss2d", "PoissonNLLLoss", "GaussianNLLLoss", "KLDivLoss", "MSELoss", "BCELoss",
    "BCEWithLogitsLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "SmoothL1Loss", "HuberLoss",
    "SoftMarginLoss", "CrossEntropyLoss", "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss",
    "MarginRankingLoss", "MultiMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss", "CTCLoss",
    "PairwiseDistance", "CosineDistance", "Distance",
]


class _Loss:
    """Base class: ``function`` names the functional loss; ``_options()`` its keyword arguments."""

    function = None

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        if size_average is not None or reduce is not None:
            reduction = legacy_reduction(size_average, reduce)
        self.reduction = reduction
        self._last_inputs = None

    def _options(self):
        return {"reduction": self.reduction}

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def forward(self, *inputs):
        self._last_inputs = inputs
        return getattr(F, self.function)(*inputs, **self._options())

    def backward(self, grad_output=None):
        """Gradients of the last call's loss (times ``grad_output``) with respect to its inputs."""
        if self._last_inputs is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before a forward call")
        _, grads = value_and_grad(self.function, *self._last_inputs, grad_output=grad_output, **self._options())
        return grads

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options().items() if k != "weight" and k != "pos_weight")
        return f"{type(self).__name__}({opts})"


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

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def _options(self):
        return {"log_input": self.log_input, "full": self.full, "eps": self.eps, "reduction": self.reduction}


class GaussianNLLLoss(_Loss):
    function = "gaussian_nll_loss"

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

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def _options(self):
        return {"margin": self.margin, "reduction": self.reduction}


class TripletMarginLoss(_Loss):
    function = "triplet_margin_loss"

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def _options(self):
        return {"margin": self.margin, "p": self.p, "eps": self.eps, "swap": self.swap, "reduction": self.reduction}


class TripletMarginWithDistanceLoss(_Loss):
    function = "triplet_margin_with_distance_loss"

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        self.distance_function = distance_function
        self.margin = margin
        self.swap = swap

    def _options(self):
        return {"distance_function": self.distance_function, "margin": self.margin, "swap": self.swap,
                "reduction": self.reduction}


class CTCLoss(_Loss):
    function = "ctc_loss"

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
