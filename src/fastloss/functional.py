"""The functional API: every loss of ``torch.nn.functional``, with torch's signature.

Each loss accepts NumPy arrays of any layout (or anything ``numpy.asarray`` takes, torch CPU
tensors included) and returns a NumPy array of the input's floating dtype: 0-d for a reduced
loss. Gradients come from :func:`fastloss.value_and_grad`.
"""
from ._losses.classification import cross_entropy, multilabel_soft_margin_loss, nll_loss
from ._losses.ctc import ctc_loss
from ._losses.elementwise import l1_loss, mse_loss
from ._losses.margin import multi_margin_loss, multilabel_margin_loss
from ._losses.embedding import cosine_embedding_loss, triplet_margin_loss, triplet_margin_with_distance_loss

__all__ = ["l1_loss", "mse_loss",
           "nll_loss", "cross_entropy", "multilabel_soft_margin_loss",
           "multi_margin_loss", "multilabel_margin_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "ctc_loss"]
