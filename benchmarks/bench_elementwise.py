"""Elementwise losses: tiny (call overhead), 1M and 16.8M elements, float32 and float64, vs torch
and the memory-bandwidth floor."""
import numpy as np
import pytest

from benchmarks.harness import CONTENDERS, DTYPES, as_dtype, group_name, run_contender

SIZES = {"tiny": (8, 10), "1M": (1024, 1024), "16.8M": (4096, 4096)}


def _uniform(rng, shape, lo, hi):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def _args(loss, shape, rng):
    """(args, kwargs, wrt) for one loss on float32 arrays of ``shape``."""
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.standard_normal(shape, dtype=np.float32)
    if loss in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        return (x, y), {}, ("input",)
    if loss in ("soft_margin_loss", "hinge_embedding_loss"):
        return (x, np.sign(y) + (y == 0)), {}, ("input",)
    if loss == "margin_ranking_loss":
        return (x, y, np.sign(x - y).astype(np.float32)), {"margin": 0.1}, ("input1", "input2")
    if loss == "binary_cross_entropy":
        return (_uniform(rng, shape, 0.01, 0.99), _uniform(rng, shape, 0, 1)), {}, ("input",)
    if loss == "binary_cross_entropy_with_logits":
        return (x, _uniform(rng, shape, 0, 1)), {}, ("input",)
    if loss == "kl_div":
        return ((np.log(_uniform(rng, shape, 0.01, 1)), _uniform(rng, shape, 0, 1)), {"reduction": "batchmean"},
                ("input",))
    if loss == "poisson_nll_loss":
        return (x, _uniform(rng, shape, 0, 5)), {}, ("input",)
    if loss == "gaussian_nll_loss":
        return (x, y, _uniform(rng, shape, 0.1, 2)), {}, ("input",)
    raise KeyError(loss)


LOSSES = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss", "hinge_embedding_loss",
          "margin_ranking_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
          "poisson_nll_loss", "gaussian_nll_loss"]


# The bandwidth floor is meaningful for large arrays only: no floor contender for "tiny".
CASES = [(size, contender) for size in SIZES for contender in CONTENDERS + ("floor",)
         if not (size == "tiny" and contender == "floor")]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("size,contender", CASES)
@pytest.mark.parametrize("loss", LOSSES)
def test_elementwise(benchmark, loss, size, contender, dtype):
    benchmark.group = group_name(f"{loss}-{size}", dtype)
    args, kwargs, wrt = _args(loss, SIZES[size], np.random.default_rng(0))
    args = as_dtype(args, dtype)
    if contender == "floor":
        # NumPy reading every input array once (gaussian_nll's var and margin_ranking's target too)
        run_contender(benchmark, contender, loss, args, kwargs)
        return
    run_contender(benchmark, contender, loss, args, kwargs, wrt=wrt, small=size == "tiny")
