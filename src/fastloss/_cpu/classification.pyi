"""Type stubs of the compiled module fastloss._cpu.classification (internal: kernels never validate)."""
from typing import Any

from numpy.typing import NDArray

def ce_index_rows(
    x: NDArray[Any],
    t: NDArray[Any],
    w: NDArray[Any],
    ignore_index: int,
    eps: float,
    out: NDArray[Any],
    grad: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    partial: NDArray[Any],
    n_threads: int,
) -> Any: ...
def ce_index_spatial(
    x: NDArray[Any],
    t: NDArray[Any],
    w: NDArray[Any],
    ignore_index: int,
    eps: float,
    out: NDArray[Any],
    grad: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    partial: NDArray[Any],
    n_threads: int,
) -> Any: ...
def ce_prob_rows(
    x: NDArray[Any],
    y: NDArray[Any],
    w: NDArray[Any],
    eps: float,
    out: NDArray[Any],
    grad: NDArray[Any],
    tgrad: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    partial: NDArray[Any],
    n_threads: int,
) -> Any: ...
def ce_prob_spatial(
    x: NDArray[Any],
    y: NDArray[Any],
    w: NDArray[Any],
    eps: float,
    out: NDArray[Any],
    grad: NDArray[Any],
    tgrad: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    partial: NDArray[Any],
    n_threads: int,
) -> Any: ...
def nll(
    x: NDArray[Any],
    t: NDArray[Any],
    w: NDArray[Any],
    ignore_index: int,
    out: NDArray[Any],
    grad: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    partial: NDArray[Any],
    n_threads: int,
) -> Any: ...
def multilabel_soft_margin(
    x: NDArray[Any],
    y: NDArray[Any],
    w: NDArray[Any],
    inv_c: float,
    out: NDArray[Any],
    gx: NDArray[Any],
    gy: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    partial: NDArray[Any],
    n_threads: int,
) -> Any: ...
def common_case(
    threads_for: Any, input: Any, target: Any, ignore_index: int, mean: bool, want_grad: bool, is_nll: bool
) -> tuple[NDArray[Any], NDArray[Any] | None] | None: ...

SOFTMAX_EXP: str

def softmax_exp_row(x: NDArray[Any], m: float) -> tuple[NDArray[Any], float]: ...
