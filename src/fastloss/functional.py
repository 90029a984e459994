"""The functional API: every loss of ``torch.nn.functional``, with torch's signature.

Each loss accepts NumPy arrays of any layout (or anything ``numpy.asarray`` takes, torch CPU
tensors included) and returns a NumPy array of the input's floating dtype: 0-d for a reduced
loss. Gradients come from :func:`fastloss.value_and_grad`.

The implementations live with their family in ``fastloss._losses``: ``elementwise``,
``classification``, ``margin``, ``embedding`` and ``ctc``.
"""
from ._losses.classification import cross_entropy, multilabel_soft_margin_loss, nll_loss
from ._losses.ctc import ctc_loss
from ._losses.elementwise import (
                                  binary_cross_entropy,
                                  binary_cross_entropy_with_logits,
                                  gaussian_nll_loss,
                                  hinge_embedding_loss,
                                  huber_loss,
                                  kl_div,
                                  l1_loss,
                                  margin_ranking_loss,
                                  mse_loss,
                                  poisson_nll_loss,
                                  smooth_l1_loss,
                                  soft_margin_loss,
)
from ._losses.embedding import cosine_embedding_loss, triplet_margin_loss, triplet_margin_with_distance_loss
from ._losses.margin import multi_margin_loss, multilabel_margin_loss

# In API.md's order.
__all__ = [
    "l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss",
    "gaussian_nll_loss", "hinge_embedding_loss", "multilabel_margin_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "cosine_embedding_loss", "margin_ranking_loss", "multi_margin_loss",
    "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss",
]
