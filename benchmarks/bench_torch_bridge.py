"""fastloss through the torch bridge (``fastloss.torch``) against torch's own losses, same process,
same tensors, 2 threads each (benchmarks/conftest.py): forward+backward as a training step runs it
(``torch.autograd.grad`` of the loss with respect to its input).

Contenders per group:

* ``torch``: ``torch.nn.functional.<loss>``;
* ``fastloss.torch``: ``fastloss.torch.<loss>`` (eager: the autograd.Function path, see _ops.py);
* ``fastloss.torch-op``: the registered custom op called through the dispatcher
  (``torch.ops.fastloss.<loss>``, what torch.compile graphs call), to show its per-call overhead;
* ``fastloss-numpy``: ``fastloss.value_and_grad`` on the NumPy views (the bridge's floor).

Small calls are timed in batches of many calls (pedantic rounds): the best batch's mean per call.
"""
import numpy as np
import pytest

import fastloss

torch = pytest.importorskip("torch")
import fastloss.torch as flt  # noqa: E402
from benchmarks.bench_ctc import ctc_inputs  # noqa: E402
from fastloss.torch import _ops  # noqa: E402

pytestmark = pytest.mark.torch
CONTENDERS = ("torch", "fastloss.torch", "fastloss.torch-op", "fastloss-numpy")


def _cross_entropy_inputs(N, C, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((N, C), dtype=np.float32)), torch.from_numpy(rng.integers(0, C, N))


CASES = {
    "ctc_loss-500x32x29x120": ("ctc_loss", lambda: tuple(torch.from_numpy(a) for a in ctc_inputs(500, 32, 29, 120))),
    "cross_entropy-8192x1000": ("cross_entropy", lambda: _cross_entropy_inputs(8192, 1000)),
    "cross_entropy-8x10": ("cross_entropy", lambda: _cross_entropy_inputs(8, 10)),
}


def _step(contender, loss, args):
    """A function running forward+backward once, returning the input's gradient."""
    leaf = args[0].clone().requires_grad_()
    rest = args[1:]
    if contender == "fastloss-numpy":
        arrays = [a.numpy() for a in args]
        fn = getattr(fastloss, loss)
        return lambda: fastloss.value_and_grad(fn, *arrays)[1]
    if contender == "fastloss.torch-op":
        tensors, params = getattr(flt.functional, loss).__wrapped__(leaf, *rest)
        op, wrt = _ops.OPS[loss], [True] + [False] * (len(_ops.SPECS[loss].differentiable) - 1)
        return lambda: torch.autograd.grad(op(*tensors, *params, wrt, None)[0], leaf)
    fn = getattr(torch.nn.functional if contender == "torch" else flt, loss)
    return lambda: torch.autograd.grad(fn(leaf, *rest), leaf)


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("case", list(CASES))
def test_torch_bridge(benchmark, case, contender):
    loss, make = CASES[case]
    benchmark.group = f"torch_bridge-{case}"
    benchmark.extra_info.update(loss=loss, contender=contender)
    args = make()
    step = _step(contender, loss, args)
    result = step()  # and a check that every contender computes the same gradient
    reference = args[0].clone().requires_grad_()
    expected = torch.autograd.grad(getattr(torch.nn.functional, loss)(reference, *args[1:]), reference)
    got = result["input" if loss == "cross_entropy" else "log_probs"] if isinstance(result, dict) else result[0]
    torch.testing.assert_close(torch.as_tensor(got), expected[0], rtol=1e-4, atol=1e-6)
    if case.endswith("8x10"):
        # per-call overhead: the best of many batches of 200 calls
        benchmark.pedantic(step, rounds=50, iterations=200, warmup_rounds=2)
    else:
        benchmark(step)
