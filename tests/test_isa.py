"""The kernel modules' ISA variants. AVX2 and AVX-512 compute the same bits (both evaluate vecmath.h's
polynomials with fused multiply-adds, lane by lane); the baseline build (a product and a sum for
each multiply-add) agrees with them to within the last bits of float32/float64 results."""
import importlib
import warnings

import numpy as np
import pytest
from isa_helpers import is_module_of, kernel_modules_in_use, use_isa

import fastloss as fl
from fastloss import _cpu
from fastloss.__main__ import examples
from fastloss._cpu.isa import has_avx2, has_avx512

CASES = examples(np.random.default_rng(3))


def _variant_built(isa):
    try:
        importlib.import_module(f"fastloss._cpu.elementwise_{isa}")
    except ImportError:
        return False
    return True


VARIANTS = [isa for isa, runs in (("avx2", has_avx2()), ("avx512", has_avx512())) if runs and _variant_built(isa)]
pytestmark = pytest.mark.skipif(not VARIANTS, reason="needs an AVX2 CPU and a build with ISA variants")


def _run(monkeypatch, isa, name, args, kwargs, wrt):
    use_isa(monkeypatch, isa)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fl.value_and_grad(name, *args, wrt=wrt, **kwargs)
    used = kernel_modules_in_use()  # the call ran the variant asked for, through every entry point
    assert used and all(is_module_of(m, isa) for m in used), used
    return result


def test_best_isa_is_the_widest_the_cpu_runs(monkeypatch):
    monkeypatch.delenv("FASTLOSS_ISA", raising=False)
    best = VARIANTS[-1]
    assert _cpu.best_isa() == best
    assert _cpu.kernels("ctc").__name__ == f"fastloss._cpu.ctc_{best}"
    assert _cpu.kernels("ctc", isa="baseline").__name__ == "fastloss._cpu.ctc"


# baseline against a variant: the exp/log/log1p results differ by at most an ulp here and there,
# which the losses' formulas carry over with their own conditioning
RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def _assert_close(ours, base):
    ours, base = np.asarray(ours), np.asarray(base)
    rtol = RTOL[base.dtype]
    scale = float(np.abs(base[np.isfinite(base)]).max()) if np.isfinite(base).any() else 1.0
    np.testing.assert_allclose(ours, base, rtol=rtol, atol=rtol * scale, equal_nan=True)


@pytest.mark.parametrize("isa", VARIANTS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_variant_agrees_with_baseline(monkeypatch, case, isa):
    _, name, args, kwargs, wrt = case
    base_loss, base_grads = _run(monkeypatch, "baseline", name, args, kwargs, wrt)
    var_loss, var_grads = _run(monkeypatch, isa, name, args, kwargs, wrt)
    _assert_close(var_loss, base_loss)
    for w in wrt:
        _assert_close(var_grads[w], base_grads[w])


needs_both = pytest.mark.skipif(VARIANTS != ["avx2", "avx512"], reason="needs a CPU running AVX2 and AVX-512")


@needs_both
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_avx2_and_avx512_are_bit_identical(monkeypatch, case):
    _, name, args, kwargs, wrt = case
    loss2, grads2 = _run(monkeypatch, "avx2", name, args, kwargs, wrt)
    loss512, grads512 = _run(monkeypatch, "avx512", name, args, kwargs, wrt)
    np.testing.assert_array_equal(loss512, loss2)
    for w in wrt:
        np.testing.assert_array_equal(grads512[w], grads2[w])


def _assert_variants_agree(monkeypatch, name, args, kwargs):
    """Each variant close to the baseline, and the variants identical to each other."""
    results = {isa: _run(monkeypatch, isa, name, args, kwargs, ("input",)) for isa in ["baseline"] + VARIANTS}
    for isa in VARIANTS:
        _assert_close(results[isa][0], results["baseline"][0])
        _assert_close(results[isa][1]["input"], results["baseline"][1]["input"])
        np.testing.assert_array_equal(results[isa][0], results[VARIANTS[0]][0])
        np.testing.assert_array_equal(results[isa][1]["input"], results[VARIANTS[0]][1]["input"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs(monkeypatch, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_003).astype(dtype)
    y = rng.random(100_003).astype(dtype)
    for name in ("binary_cross_entropy_with_logits", "soft_margin_loss", "poisson_nll_loss", "kl_div"):
        target = np.sign(y - 0.5) if name == "soft_margin_loss" else y
        _assert_variants_agree(monkeypatch, name, (x, target), {})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_classification_inputs(monkeypatch, dtype):
    # the softmax rows and blocks (float64: vecmath.h's exp) and multilabel_soft_margin's rows
    rng = np.random.default_rng(1)
    rows = (rng.standard_normal((64, 1001)) * 5).astype(dtype)
    image = (rng.standard_normal((3, 7, 19, 23)) * 5).astype(dtype)
    probs = rng.random((64, 1001)).astype(dtype)
    _assert_variants_agree(monkeypatch, "cross_entropy", (rows, rng.integers(0, 1001, 64)), {"label_smoothing": 0.1})
    _assert_variants_agree(monkeypatch, "cross_entropy", (image, rng.integers(0, 7, (3, 19, 23))), {})
    _assert_variants_agree(monkeypatch, "cross_entropy", (rows, probs / probs.sum(1, keepdims=True)), {})
    _assert_variants_agree(monkeypatch, "multilabel_soft_margin_loss", (rows, (probs > 0.5).astype(dtype)), {})
