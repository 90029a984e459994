"""The AVX2 and AVX-512 variants of the kernel modules compute exactly what the baseline build computes."""
import importlib
import warnings

import numpy as np
import pytest

import fastloss as fl
from fastloss import _backend, _cpu
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
    monkeypatch.setattr(_backend, "_CPU_KERNELS", {})
    monkeypatch.setenv("FASTLOSS_ISA", isa)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fl.value_and_grad(name, *args, wrt=wrt, **kwargs)


def test_best_isa_is_the_widest_the_cpu_runs(monkeypatch):
    monkeypatch.delenv("FASTLOSS_ISA", raising=False)
    best = VARIANTS[-1]
    assert _cpu.best_isa() == best
    assert _cpu.kernels("ctc").__name__ == f"fastloss._cpu.ctc_{best}"
    assert _cpu.kernels("ctc", isa="baseline").__name__ == "fastloss._cpu.ctc"


@pytest.mark.parametrize("isa", VARIANTS)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_variant_is_bit_identical_to_baseline(monkeypatch, case, isa):
    _, name, args, kwargs, wrt = case
    base_loss, base_grads = _run(monkeypatch, "baseline", name, args, kwargs, wrt)
    var_loss, var_grads = _run(monkeypatch, isa, name, args, kwargs, wrt)
    np.testing.assert_array_equal(var_loss, base_loss)
    for w in wrt:
        np.testing.assert_array_equal(var_grads[w], base_grads[w])


@pytest.mark.parametrize("isa", VARIANTS)
def test_large_inputs_bit_identical(monkeypatch, isa):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_003).astype(np.float32)
    y = rng.random(100_003).astype(np.float32)
    for name in ("binary_cross_entropy_with_logits", "soft_margin_loss", "poisson_nll_loss"):
        target = np.sign(y - 0.5) if name == "soft_margin_loss" else y
        base = _run(monkeypatch, "baseline", name, (x, target), {}, ("input",))
        avx = _run(monkeypatch, isa, name, (x, target), {}, ("input",))
        np.testing.assert_array_equal(avx[0], base[0])
        np.testing.assert_array_equal(avx[1]["input"], base[1]["input"])
