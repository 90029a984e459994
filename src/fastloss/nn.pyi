"""Type stubs: the loss modules (torch.nn's constructor arguments) and the distances."""
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__: list[str]

_VJP = Callable[[ArrayLike], tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]]

class _Loss:
    reduction: str
    def __call__(self, *inputs: Any) -> NDArray[np.floating[Any]]: ...
    def forward(self, *inputs: Any) -> NDArray[np.floating[Any]]: ...
    def backward(self, grad_output: ArrayLike | None = ...) -> dict[str, NDArray[np.floating[Any]]]: ...

class L1Loss(_Loss):
    def __init__(self, size_average: bool | None = ..., reduce: bool | None = ..., reduction: str = ...) -> None: ...

class NLLLoss(_Loss):
    def __init__(
        self,
        weight: ArrayLike | None = ...,
        size_average: bool | None = ...,
        ignore_index: int = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class NLLLoss2d(_Loss):
    def __init__(
        self,
        weight: ArrayLike | None = ...,
        size_average: bool | None = ...,
        ignore_index: int = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class PoissonNLLLoss(_Loss):
    def __init__(
        self,
        log_input: bool = ...,
        full: bool = ...,
        size_average: bool | None = ...,
        eps: float = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class GaussianNLLLoss(_Loss):
    def __init__(self, *, full: bool = ..., eps: float = ..., reduction: str = ...) -> None: ...

class KLDivLoss(_Loss):
    def __init__(
        self,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
        log_target: bool = ...,
    ) -> None: ...

class MSELoss(_Loss):
    def __init__(self, size_average: bool | None = ..., reduce: bool | None = ..., reduction: str = ...) -> None: ...

class BCELoss(_Loss):
    def __init__(
        self,
        weight: ArrayLike | None = ...,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class BCEWithLogitsLoss(_Loss):
    def __init__(
        self,
        weight: ArrayLike | None = ...,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
        pos_weight: ArrayLike | None = ...,
    ) -> None: ...

class HingeEmbeddingLoss(_Loss):
    def __init__(
        self,
        margin: float = ...,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class MultiLabelMarginLoss(_Loss):
    def __init__(self, size_average: bool | None = ..., reduce: bool | None = ..., reduction: str = ...) -> None: ...

class SmoothL1Loss(_Loss):
    def __init__(
        self,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
        beta: float = ...,
    ) -> None: ...

class HuberLoss(_Loss):
    def __init__(self, reduction: str = ..., delta: float = ...) -> None: ...

class SoftMarginLoss(_Loss):
    def __init__(self, size_average: bool | None = ..., reduce: bool | None = ..., reduction: str = ...) -> None: ...

class CrossEntropyLoss(_Loss):
    def __init__(
        self,
        weight: ArrayLike | None = ...,
        size_average: bool | None = ...,
        ignore_index: int = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
        label_smoothing: float = ...,
    ) -> None: ...

class MultiLabelSoftMarginLoss(_Loss):
    def __init__(
        self,
        weight: ArrayLike | None = ...,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class CosineEmbeddingLoss(_Loss):
    def __init__(
        self,
        margin: float = ...,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class MarginRankingLoss(_Loss):
    def __init__(
        self,
        margin: float = ...,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class MultiMarginLoss(_Loss):
    def __init__(
        self,
        p: int = ...,
        margin: float = ...,
        weight: ArrayLike | None = ...,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class TripletMarginLoss(_Loss):
    def __init__(
        self,
        margin: float = ...,
        p: float = ...,
        eps: float = ...,
        swap: bool = ...,
        size_average: bool | None = ...,
        reduce: bool | None = ...,
        reduction: str = ...,
    ) -> None: ...

class TripletMarginWithDistanceLoss(_Loss):
    def __init__(
        self,
        *,
        distance_function: Callable[[Any, Any], Any] | None = ...,
        margin: float = ...,
        swap: bool = ...,
        reduction: str = ...,
    ) -> None: ...

class CTCLoss(_Loss):
    def __init__(self, blank: int = ..., reduction: str = ..., zero_infinity: bool = ...) -> None: ...

class Distance:
    def value_and_vjp(self, x1: ArrayLike, x2: ArrayLike) -> tuple[NDArray[np.floating[Any]], _VJP]: ...
    def __call__(self, x1: ArrayLike, x2: ArrayLike) -> NDArray[np.floating[Any]]: ...
    def forward(self, x1: ArrayLike, x2: ArrayLike) -> NDArray[np.floating[Any]]: ...

class PairwiseDistance(Distance):
    norm: float
    eps: float
    keepdim: bool
    def __init__(self, p: float = ..., eps: float = ..., keepdim: bool = ...) -> None: ...

class CosineDistance(Distance):
    eps: float
    def __init__(self, eps: float = ...) -> None: ...
