"""The functional API: every loss of ``torch.nn.functional``, with torch's signature.

Each loss accepts NumPy arrays of any layout (or anything ``numpy.asarray`` takes, torch CPU
tensors included) and returns a NumPy array of the input's floating dtype: 0-d for a reduced
loss. Gradients come from :func:`fastloss.value_and_grad`.
"""
from ._losses.elementwise import (binary_cross_entropy, binary_cross_entropy_with_logits, gaussian_nll_loss,  # noqa: F401
                                  hinge_embedding_loss, huber_loss, kl_div, l1_loss, margin_ranking_loss, mse_loss,
                                  poisson_nll_loss, smooth_l1_loss, soft_margin_loss)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
]
