"""Type stubs of the public API."""
from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import functional as functional
from . import nn as nn
from .functional import l1_loss as l1_loss, mse_loss as mse_loss, smooth_l1_loss as smooth_l1_loss, huber_loss as huber_loss, nll_loss as nll_loss, cross_entropy as cross_entropy, binary_cross_entropy as binary_cross_entropy, binary_cross_entropy_with_logits as binary_cross_entropy_with_logits, kl_div as kl_div, poisson_nll_loss as poisson_nll_loss, gaussian_nll_loss as gaussian_nll_loss, hinge_embedding_loss as hinge_embedding_loss, multilabel_margin_loss as multilabel_margin_loss, soft_margin_loss as soft_margin_loss, multilabel_soft_margin_loss as multilabel_soft_margin_loss, cosine_embedding_loss as cosine_embedding_loss, margin_ranking_loss as margin_ranking_loss, multi_margin_loss as multi_margin_loss, triplet_margin_loss as triplet_margin_loss, triplet_margin_with_distance_loss as triplet_margin_with_distance_loss, ctc_loss as ctc_loss

__version__: str
__all__: list[str]

def value_and_grad(
    fn: Callable[..., Any] | str,
    *args: Any,
    grad_output: ArrayLike | None = ...,
    wrt: str | Sequence[str] | None = ...,
    **kwargs: Any,
) -> tuple[NDArray[np.floating[Any]], dict[str, NDArray[np.floating[Any]]]]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def has_openmp() -> bool: ...
