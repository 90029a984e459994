"""Type stubs: the losses, with torch.nn.functional's signatures."""
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__: list[str]

def l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
    weight: ArrayLike | None = ...,
) -> NDArray[np.floating[Any]]: ...
def mse_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
    weight: ArrayLike | None = ...,
) -> NDArray[np.floating[Any]]: ...
def smooth_l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
    beta: float = ...,
) -> NDArray[np.floating[Any]]: ...
def huber_loss(
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = ...,
    delta: float = ...,
    weight: ArrayLike | None = ...,
) -> NDArray[np.floating[Any]]: ...
def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = ...,
    size_average: bool | None = ...,
    ignore_index: int = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = ...,
    size_average: bool | None = ...,
    ignore_index: int = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
    label_smoothing: float = ...,
) -> NDArray[np.floating[Any]]: ...
def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = ...,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = ...,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
    pos_weight: ArrayLike | None = ...,
) -> NDArray[np.floating[Any]]: ...
def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
    log_target: bool = ...,
) -> NDArray[np.floating[Any]]: ...
def poisson_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = ...,
    full: bool = ...,
    size_average: bool | None = ...,
    eps: float = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def gaussian_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike | float,
    full: bool = ...,
    eps: float = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def hinge_embedding_loss(
    input: ArrayLike,
    target: ArrayLike,
    margin: float = ...,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def multilabel_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def multilabel_soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = ...,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def cosine_embedding_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = ...,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def margin_ranking_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = ...,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def multi_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    p: int = ...,
    margin: float = ...,
    weight: ArrayLike | None = ...,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def triplet_margin_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    margin: float = ...,
    p: float = ...,
    eps: float = ...,
    swap: bool = ...,
    size_average: bool | None = ...,
    reduce: bool | None = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def triplet_margin_with_distance_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    distance_function: Callable[[Any, Any], Any] | None = ...,
    margin: float = ...,
    swap: bool = ...,
    reduction: str = ...,
) -> NDArray[np.floating[Any]]: ...
def ctc_loss(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = ...,
    reduction: str = ...,
    zero_infinity: bool = ...,
) -> NDArray[np.floating[Any]]: ...
