"""Classification losses vs torch: value_and_grad (wrt input) against torch forward+backward, and
the forward alone, float32 and float64, at the sizes issue 3 asks for, the mid-size calls of
issue 11 (256x1000) and a tiny 8x10 call for the per-call overhead.

Targets (2 threads): cross_entropy 8192x1000 >= 2x, 32x50257 >= 1.5x, 16x21x128x128 >= 2x;
nll_loss 8192x1000 >= 2x.
"""
import numpy as np
import pytest

from benchmarks.harness import CONTENDERS, DTYPES, as_dtype, group_name, run_contender

CASES = {
    "cross_entropy": {"tiny": (8, 10), "256x1000": (256, 1000), "8192x1000": (8192, 1000), "32x50257": (32, 50257),
                      "16x21x128x128": (16, 21, 128, 128)},
    "nll_loss": {"tiny": (8, 10), "8192x1000": (8192, 1000)},
    "multilabel_soft_margin_loss": {"tiny": (8, 10), "4096x1000": (4096, 1000)},
}
PARAMS = [(loss, size) for loss, sizes in CASES.items() for size in sizes]


def _args(loss, shape, rng):
    x = rng.standard_normal(shape, dtype=np.float32)
    if loss == "multilabel_soft_margin_loss":
        return (x, (rng.random(shape) < 0.1).astype(np.float32)), {}
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    return (x, target), {}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("loss,size", PARAMS, ids=[f"{loss}-{size}" for loss, size in PARAMS])
def test_classification(benchmark, loss, size, contender, dtype):
    benchmark.group = group_name(f"{loss}-{size}", dtype)
    args, kwargs = _args(loss, CASES[loss][size], np.random.default_rng(0))
    run_contender(benchmark, contender, loss, as_dtype(args, dtype), kwargs, wrt=("input",), small=size == "tiny")
