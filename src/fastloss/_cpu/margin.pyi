"""Type stubs of the compiled module fastloss._cpu.margin (internal: kernels never validate)."""
from typing import Any

from numpy.typing import NDArray

def multi_margin(
    x: NDArray[Any],
    target: NDArray[Any],
    weight: NDArray[Any],
    margin: float,
    p: int,
    rowloss: NDArray[Any],
    gx: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    n_threads: int,
) -> Any: ...
def multilabel_margin(
    x: NDArray[Any],
    target: NDArray[Any],
    rowloss: NDArray[Any],
    gx: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    n_threads: int,
) -> Any: ...
def common_case(
    threads_for: Any,
    multi: bool,
    input: Any,
    target: Any,
    reduction: Any,
    grad: Any,
    p: Any = ...,
    margin: Any = ...,
) -> Any: ...
