"""Type stubs of the compiled module fastloss._cpu.ctc (internal: kernels never validate)."""
from typing import Any

from numpy.typing import NDArray

def ctc_loss(
    log_probs: NDArray[Any],
    targets: NDArray[Any],
    offsets: NDArray[Any],
    target_lengths: NDArray[Any],
    input_lengths: NDArray[Any],
    order: NDArray[Any],
    blank: int,
    nll: NDArray[Any],
    grad: NDArray[Any],
    grad_scale: NDArray[Any],
    zero_infinity: bool,
    n_threads: int,
) -> Any: ...
def host_loss(
    log_probs: NDArray[Any],
    targets: NDArray[Any],
    offsets: NDArray[Any],
    target_lengths: NDArray[Any],
    input_lengths: NDArray[Any],
    blank: int,
    mode: int,
    zero_infinity: bool,
    nll: NDArray[Any],
    grad: NDArray[Any] | None,
    grad_output: float,
    grad_outputs: NDArray[Any] | None,
    threads_for: Any,
) -> float | None: ...
def grad_scales(target_lengths: NDArray[Any], mode: int, grad_output: float) -> NDArray[Any]: ...
def reduce_losses(nll: NDArray[Any], target_lengths: NDArray[Any], mode: int, zero_infinity: bool) -> float | None: ...
def common_case(
    threads_for: Any,
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: Any,
    reduction: Any,
    zero_infinity: Any,
    grad: Any,
) -> Any: ...
