"""The float32 softmax exp of classification.pyx (cross entropy's and the spatial layout's exp
loop), in each build of the module: the fused multiply-add ones (AVX2+FMA, AVX-512) compute the
same bits, every build stays within an ulp of exp with the same special values, and cross entropy
computed with each matches a float64 reference."""
import os
import subprocess
import sys

import numpy as np
import pytest
from isa_helpers import is_module_of, kernel_modules_in_use, use_isa

import fastloss as fl
from fastloss._cpu import kernels
from fastloss._cpu.isa import has_avx2, has_avx512

# the builds this CPU runs and this build has (FASTLOSS_ISA_VARIANTS may leave some out)
ISAS = ["baseline"] + [isa for isa, runs in (("avx2", has_avx2()), ("avx512", has_avx512()))
                       if runs and is_module_of(kernels("classification", isa).__name__, isa)]


def _module(isa):
    return kernels("classification", isa)


def _ulp_errors(got, x):
    want = np.exp(x.astype(np.float64))
    ulp = np.ldexp(1.0, np.frexp(want)[1] - 24)
    return np.abs(got.astype(np.float64) - want) / ulp


@pytest.mark.parametrize("isa", ISAS)
def test_within_an_ulp_of_exp_over_its_range(isa):
    # every 101st float in [-87.3, 0] (the normal results); exhaustively: <= 0.89 ulp with FMA, 0.98 without
    x = np.arange(0x80000000, 0xC2AE8000, 101, dtype=np.uint32).view(np.float32)
    module = _module(isa)
    assert module.SOFTMAX_EXP == ("plain" if isa == "baseline" else "fma")
    out, total = module.softmax_exp_row(x, 0.0)
    assert _ulp_errors(out, x).max() < (0.9 if module.SOFTMAX_EXP == "fma" else 0.99)
    assert total == pytest.approx(np.exp(x.astype(np.float64)).sum(), rel=1e-6)


@pytest.mark.skipif(ISAS != ["baseline", "avx2", "avx512"], reason="needs a CPU running AVX2 and AVX-512, both built")
def test_fma_variants_compute_the_same_bits():
    x = np.arange(0x80000000, 0xC2B00000, 37, dtype=np.uint32).view(np.float32)
    ours_avx2, total_avx2 = _module("avx2").softmax_exp_row(x, 0.0)
    ours_avx512, total_avx512 = _module("avx512").softmax_exp_row(x, 0.0)
    np.testing.assert_array_equal(ours_avx2, ours_avx512)
    assert total_avx2 == total_avx512


SPECIAL = np.array([-0.0, 0.0, -np.inf, np.nan, -1e-45, -1e-30, -0.5, -87.3, -87.5, -87.7, -88.0, -103.9, -104.0,
                    -104.5, -1e30, -np.float32(3.4e38)], dtype=np.float32)


@pytest.mark.parametrize("isa", ISAS)
def test_special_values(isa):
    # in a row long enough for the vector body, and in its tail
    x = np.concatenate([np.full(13, -1.0, np.float32), SPECIAL, SPECIAL])
    out, total = _module(isa).softmax_exp_row(x, 0.0)
    for got in (out[13:13 + SPECIAL.size], out[13 + SPECIAL.size:]):
        assert np.isnan(got[3]) and np.isnan(total)
        assert got[0] == 1.0 and got[1] == 1.0 and got[4] == 1.0  # exp(-0), exp(+0), exp(-tiny)
        assert got[5] == 1.0 and got[6] == np.float32(np.exp(-0.5))
        # from x = -87.68 (where the scale 2^k would be subnormal) the result is 0 in every variant
        # (-inf included); just above it, a subnormal or tiny normal result
        np.testing.assert_array_equal(got[[2, 9, 10, 11, 12, 13, 14, 15]], 0.0)
        assert np.all(got[[7, 8]] > 0)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("shape", [(7, 37), (64, 1000), (3, 5, 9, 11)])
def test_cross_entropy_float32_matches_float64_in_every_variant(monkeypatch, isa, shape):
    use_isa(monkeypatch, isa)
    rng = np.random.default_rng(len(shape))
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    loss, grads = fl.value_and_grad(fl.cross_entropy, x, t, reduction="sum")
    assert all(is_module_of(m, isa) for m in kernel_modules_in_use())
    x64 = x.astype(np.float64)
    moved = np.moveaxis(x64, 1, -1)
    lse = np.log(np.exp(moved - moved.max(-1, keepdims=True)).sum(-1)) + moved.max(-1)
    picked = np.take_along_axis(moved, t[..., None], -1)[..., 0]
    np.testing.assert_allclose(loss, (lse - picked).sum(), rtol=2e-6)
    softmax = np.exp(moved - lse[..., None])
    np.put_along_axis(softmax, t[..., None], np.take_along_axis(softmax, t[..., None], -1) - 1, -1)
    np.testing.assert_allclose(grads["input"], np.moveaxis(softmax, -1, 1), rtol=2e-5, atol=1e-7)


def test_fastloss_isa_chooses_the_build():
    code = "import fastloss._cpu as c; m = c.kernels('classification'); print(m.__name__, m.SOFTMAX_EXP)"
    for isa in ISAS:
        out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, FASTLOSS_ISA=isa),
                             capture_output=True, text=True, check=True)
        name, exp = out.stdout.split()
        assert is_module_of(name, isa) and exp == ("plain" if isa == "baseline" else "fma")
