"""Type stubs of the compiled module fastloss._cpu.embedding (internal: kernels never validate)."""
from typing import Any

from numpy.typing import NDArray

def pairwise_distance(
    x1: NDArray[Any],
    x2: NDArray[Any],
    p: float,
    kind: int,
    eps: float,
    dist: NDArray[Any],
    g1: NDArray[Any],
    g2: NDArray[Any],
    gdist: NDArray[Any],
    n_threads: int,
) -> Any: ...
def triplet_margin(
    a: NDArray[Any],
    pos: NDArray[Any],
    neg: NDArray[Any],
    margin: float,
    p: float,
    kind: int,
    eps: float,
    swap: bool,
    rowloss: NDArray[Any],
    ga: NDArray[Any],
    gp: NDArray[Any],
    gn: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    n_threads: int,
) -> Any: ...
def cosine_embedding(
    x1: NDArray[Any],
    x2: NDArray[Any],
    sign: NDArray[Any],
    margin: float,
    rowloss: NDArray[Any],
    g1: NDArray[Any],
    g2: NDArray[Any],
    go: NDArray[Any],
    g_scale: float,
    n_threads: int,
) -> Any: ...
