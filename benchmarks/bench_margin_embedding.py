"""Margin and embedding losses vs torch, float32 and float64, value_and_grad vs torch forward+backward.

Sizes (issue 3): multi_margin 4096x1000, multilabel_margin 1024x1000 (each row: a random number
of labels in [0, C/2], then -1; torch's kernel is O(labels x C) per row, ours O(C log C)),
cosine_embedding, triplet_margin and triplet_margin_with_distance 8192x512; plus a tiny size for
the call overhead.
"""
import numpy as np
import pytest

from benchmarks.harness import CONTENDERS, DTYPES, as_dtype, group_name, run_contender

SIZES = {
    "multi_margin_loss": {"tiny": (8, 10), "4096x1000": (4096, 1000)},
    "multilabel_margin_loss": {"tiny": (8, 10), "1024x1000": (1024, 1000)},
    "cosine_embedding_loss": {"tiny": (8, 10), "8192x512": (8192, 512)},
    "triplet_margin_loss": {"tiny": (8, 10), "8192x512": (8192, 512)},
    "triplet_margin_with_distance_loss": {"tiny": (8, 10), "8192x512": (8192, 512)},
}
CASES = [(loss, size) for loss, sizes in SIZES.items() for size in sizes]


def _labels(rng, n, c):
    """-1-terminated label lists: a random number of distinct labels in [0, c // 2] per row."""
    y = np.full((n, c), -1, dtype=np.int64)
    counts = rng.integers(0, c // 2 + 1, n)
    order = np.argsort(rng.random((n, c)), axis=1)
    keep = np.arange(c)[None, :] < counts[:, None]
    y[keep] = order[keep]
    return y


def _args(loss, shape, rng):
    """(args, kwargs, wrt) for one loss on float32 arrays of ``shape``."""
    n, c = shape
    x = rng.standard_normal(shape, dtype=np.float32)
    if loss == "multi_margin_loss":
        return (x, rng.integers(0, c, n)), {}, ("input",)
    if loss == "multilabel_margin_loss":
        return (x, _labels(rng, n, c)), {}, ("input",)
    x2 = rng.standard_normal(shape, dtype=np.float32)
    if loss == "cosine_embedding_loss":
        return (x, x2, np.where(rng.random(n) < 0.5, 1, -1)), {}, ("input1", "input2")
    x3 = rng.standard_normal(shape, dtype=np.float32)
    return (x, x2, x3), {}, ("anchor", "positive", "negative")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("loss,size", CASES)
def test_margin_embedding(benchmark, loss, size, contender, dtype):
    benchmark.group = group_name(f"{loss}-{size}", dtype)
    args, kwargs, wrt = _args(loss, SIZES[loss][size], np.random.default_rng(0))
    run_contender(benchmark, contender, loss, as_dtype(args, dtype), kwargs, wrt=wrt, small=size == "tiny")
