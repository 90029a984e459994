"""The cheaper float32 log1p on [0, 1] of vecmath.h (fl_log1pf_unit_fast: softplus's log1p(exp(-|z|))
in the float32 soft_margin / binary_cross_entropy_with_logits kernels), through kernel_utils'
f_log1p_unit_fast exactly as the kernels call it.

Errors in float32 ulps against float64 log1p (exact to far below a float32 ulp). Every float32 in
[0, 1] was checked while writing it (max 1.19 ulp); these tests sample the whole range plus the
hard windows and hold it to 1.25 ulp. (It is not monotonic: consecutive inputs can give results
one ulp apart in the wrong order, as for any function not correctly rounded.)
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fastloss import _cpu

pytest.importorskip("fastloss._cpu.vecmath_check")
vm = _cpu.kernels("vecmath_check")  # the variant the loss kernels run (FMA where the CPU has it)

MAX_ULP = 1.25
ONE = 0x3F800000  # bits of 1.0f


def ulp_error(x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = vm.vlog1p_unit_fast(x)
    assert y.dtype == np.float32
    ref = np.log1p(x.astype(np.float64))
    spacing = np.spacing(np.abs(ref.astype(np.float32))).astype(np.float64)
    return float(np.max(np.abs(y.astype(np.float64) - ref) / spacing))


def window(centre_bits, half):
    return (np.arange(-half, half, dtype=np.int64) + centre_bits).clip(0, ONE).astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("region", ["bits", "uniform", "near_zero", "subnormal", "near_third", "near_one"])
def test_log1p_unit_fast_float32_ulp(region):
    r = np.random.default_rng(41)
    x = {
        # uniform bit patterns: every binade of [0, 1] equally often, subnormals included
        "bits": lambda: r.integers(0, ONE + 1, 4_000_000, dtype=np.uint32).view(np.float32),
        "uniform": lambda: r.uniform(0.0, 1.0, 4_000_000).astype(np.float32),
        "near_zero": lambda: window(int(np.float32(2.0 ** -20).view(np.uint32)), 500_000),
        "subnormal": lambda: np.arange(0, 0x00800000, 7, dtype=np.uint32).view(np.float32),
        # s = e / (2 + e) near its largest values, and the rounding of 2 + e at its coarsest
        "near_third": lambda: window(int(np.float32(0.5).view(np.uint32)), 500_000),
        "near_one": lambda: window(ONE, 1_000_000),
    }[region]()
    assert ulp_error(x) <= MAX_ULP, region


def test_log1p_unit_fast_special_values():
    x = np.array([0.0, 1.0, np.nan, np.float32(2.0 ** -149), np.float32(2.0 ** -126)], np.float32)
    y = vm.vlog1p_unit_fast(x)
    assert y[0] == 0.0 and not np.signbit(y[0])
    assert y[1] == np.float32(np.log(2.0))
    assert np.isnan(y[2])
    assert y[4] == np.float32(2.0 ** -126)  # log1p(x) = x for tiny normal x
    assert np.isnan(vm.vlog1p_unit_fast(np.array([0.5, np.nan, 0.25] * 11, np.float32))[1::3]).all()


def test_log1p_unit_fast_float64_is_log1p_unit():
    """float64 keeps the accurate function (f_log1p_unit_fast is f_log1p_unit there)."""
    r = np.random.default_rng(42)
    x = np.concatenate([r.uniform(0, 1, 100_000), [0.0, 1.0, 5e-324, np.nan]])
    np.testing.assert_array_equal(vm.vlog1p_unit_fast(x).view(np.uint64), vm.vlog1p_unit(x).view(np.uint64))


def test_vector_body_and_scalar_tail_agree():
    """The vectorised body and the scalar remainder give the same bits (a value must not depend
    on its position in a block, so results stay identical across thread counts)."""
    x = np.random.default_rng(43).uniform(0.0, 1.0, 64).astype(np.float32)
    full = vm.vlog1p_unit_fast(x)
    for n in range(1, 20):
        for start in (0, 1, 3):
            np.testing.assert_array_equal(vm.vlog1p_unit_fast(x[start:start + n]).view(np.uint32),
                                          full[start:start + n].view(np.uint32))


HEADER_DIR = os.path.join(os.path.dirname(__file__), os.pardir, "src", "fastloss", "_cpu")
LOOP = """
#include "vecmath.h"
#include <stddef.h>
void v_log1pf_unit_fast(const float *x, float *y, ptrdiff_t n)
{ for (ptrdiff_t i = 0; i < n; i++) y[i] = fl_log1pf_unit_fast(x[i]); }
"""


@pytest.mark.skipif(sys.platform != "linux" or shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("arch", [[], ["-mavx2"]], ids=["baseline", "avx2"])
def test_loop_vectorizes_with_the_build_flags(tmp_path, arch):
    """gcc vectorises a plain loop over it with the package's flags (default -ftrapping-math)."""
    src = tmp_path / "loop.c"
    src.write_text(LOOP)
    out = subprocess.run(["gcc", "-O3", "-fno-math-errno", "-ffp-contract=off", *arch, "-fopt-info-vec-optimized",
                          "-I", HEADER_DIR, "-c", str(src), "-o", str(tmp_path / "loop.o")],
                         capture_output=True, text=True, check=True)
    assert any("loop vectorized" in line for line in out.stderr.splitlines()), out.stderr
