"""CTC loss: the issue's sizes (T, N, C, S), float32 and float64, forward and value_and_grad vs
torch, plus a tiny call (T=12, N=8, C=10, S=4) for the per-call overhead.

Inputs as in torch's docs example: log_softmax of standard normal logits, padded targets drawn
from the non-blank classes, full input lengths, target lengths between S/2 and S.
warp-ctc (the issue's further anchor) is not compared: it cannot be fetched or built here (no network).
"""
import numpy as np
import pytest

from benchmarks.harness import CONTENDERS, DTYPES, as_dtype, group_name, run_contender

SIZES = {
    "tiny-12x8x10x4": (12, 8, 10, 4),
    "docs-50x16x20x30": (50, 16, 20, 30),
    "150x32x28x40": (150, 32, 28, 40),
    "500x32x29x120": (500, 32, 29, 120),
    "1000x16x1000x200": (1000, 16, 1000, 200),
}


def ctc_inputs(T, N, C, S, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C), dtype=np.float32)
    lp = x - np.log(np.exp(x).sum(axis=2, keepdims=True))
    targets = rng.integers(1, C, (N, S), dtype=np.int64)
    input_lengths = np.full(N, T, dtype=np.int64)
    target_lengths = rng.integers(max(1, S // 2), S + 1, N, dtype=np.int64)
    return (lp.astype(np.float32), targets, input_lengths, target_lengths)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("size", list(SIZES))
def test_ctc_loss(benchmark, size, contender, dtype):
    benchmark.group = group_name(f"ctc_loss-{size}", dtype)
    args = as_dtype(ctc_inputs(*SIZES[size]), dtype)
    run_contender(benchmark, contender, "ctc_loss", args, {}, wrt=("log_probs",), small=size.startswith("tiny"))
