"""The functional API: every loss of ``torch.nn.functional``, with torch's signature.

Each loss accepts NumPy arrays of any layout (or anything ``numpy.asarray`` takes, torch CPU
tensors included) and returns a NumPy array of the input's floating dtype: 0-d for a reduced
loss. Gradients come from :func:`fastloss.value_and_grad`.
"""
from ._losses.ctc import ctc_loss
from ._losses.elementwise import l1_loss, mse_loss

__all__ = ["ctc_loss", "l1_loss", "mse_loss"]
