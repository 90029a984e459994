"""The functional API: every loss of ``torch.nn.functional``, with torch's signature.

Each loss accepts NumPy arrays of any layout (or anything ``numpy.asarray`` takes, torch CPU
tensors included) and returns a NumPy array of the input's floating dtype: 0-d for a reduced
loss. Gradients come from :func:`fastloss.value_and_grad`.
"""
from ._losses.classification import cross_entropy, multilabel_soft_margin_loss, nll_loss
from ._losses.elementwise import l1_loss, mse_loss

__all__ = ["l1_loss", "mse_loss", "nll_loss", "cross_entropy", "multilabel_soft_margin_loss"]
