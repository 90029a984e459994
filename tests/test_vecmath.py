"""Accuracy and IEEE special cases of the vectorisable exp/log/log1p (src/fastloss/_cpu/vecmath.h),
run through kernel_utils' f_exp/f_log/f_log1p exactly as the loss kernels call them.

Errors are measured in units in the last place (ulp) of the result's dtype:
- float64 against an extended-precision (np.longdouble, 64-bit mantissa on x86) reference;
- float32 against the float64 value of that reference (exact to far below a float32 ulp).
Every test draws millions of values (fixed seeds) over the whole domain plus the hard regions
(subnormals, overflow/underflow thresholds, near 1 for log, near 0 and -1 for log1p).
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

if np.finfo(np.longdouble).nmant < 63:
    pytest.skip("needs an extended-precision np.longdouble for the float64 reference",
                allow_module_level=True)

LD = np.longdouble
N = 1_000_000

# fdlibm's methods are documented below 1 ulp; the float versions (float arithmetic) measured
# <= 0.94 ulp over every float32 (torch's float32 exp/log, SLEEF's u10 variants, promise 1.0).
MAX_ULP64 = 1.0
MAX_ULP32 = 1.0

REF = {"exp": np.exp, "log": np.log, "log1p": np.log1p}
FUN = {"exp": vm.vexp, "log": vm.vlog, "log1p": vm.vlog1p}


def rng(seed):
    return np.random.default_rng(seed)


def ulp_error(name, x):
    """Max ulp error of FUN[name] over x (finite reference results only) and the result."""
    x = np.ascontiguousarray(x)
    y = FUN[name](x)
    with np.errstate(all="ignore"):
        ref = REF[name](x.astype(LD))
    return max_ulps(y, ref), y


def max_ulps(y, ref):
    """Max ulp error of y (float32 or float64) against the extended-precision ref; results that
    round to inf / 0 / NaN in y's dtype must be exactly that."""
    dt = y.dtype.type
    with np.errstate(over="ignore"):
        ref_dt = ref.astype(dt)
    finite = np.isfinite(ref_dt)
    np.testing.assert_array_equal(y[~finite], ref_dt[~finite])
    spacing = np.spacing(np.abs(ref_dt[finite])).astype(LD)
    err = np.abs((y[finite].astype(LD) - ref[finite]) / spacing)
    return float(err.max()) if err.size else 0.0


def bit_patterns64(r, n, lo, hi):
    """Doubles whose bit patterns are uniform in [lo, hi): every binade equally often."""
    return r.integers(lo, hi, n, dtype=np.uint64).view(np.float64)


def bit_patterns32(r, n, lo, hi):
    return r.integers(lo, hi, n, dtype=np.uint32).view(np.float32)


POS64 = (0x0000000000000001, 0x7FF0000000000000)  # every positive finite double, subnormals incl.
POS32 = (0x00000001, 0x7F800000)


# ----------------------------------------------------------------------------------- float64

@pytest.mark.parametrize("region", ["whole", "small", "tiny", "overflow", "underflow", "subnormal_out"])
def test_exp_float64_ulp(region):
    r = rng(1)
    x = {
        "whole": lambda: r.uniform(-745.2, 709.79, 2 * N),
        "small": lambda: r.uniform(-1.0, 1.0, N),
        "tiny": lambda: np.concatenate([bit_patterns64(r, N // 2, 1, 0x3E50000000000000),
                                        -bit_patterns64(r, N // 2, 1, 0x3E50000000000000)]),
        "overflow": lambda: r.uniform(709.0, 709.7827128933841, N),
        "underflow": lambda: r.uniform(-745.2, -744.0, N),
        "subnormal_out": lambda: r.uniform(-745.1, -708.3, N),
    }[region]()
    err, _ = ulp_error("exp", x)
    assert err <= MAX_ULP64, (region, err)


@pytest.mark.parametrize("region", ["whole", "near_one", "subnormal", "huge"])
def test_log_float64_ulp(region):
    r = rng(2)
    x = {
        "whole": lambda: bit_patterns64(r, 2 * N, *POS64),
        "near_one": lambda: np.concatenate([1.0 + r.uniform(-1e-3, 1e-3, N // 2),
                                            r.uniform(0.7, 1.42, N // 2)]),
        "subnormal": lambda: bit_patterns64(r, N, 1, 0x0010000000000000),
        "huge": lambda: bit_patterns64(r, N, 0x7FE0000000000000, 0x7FF0000000000000),
    }[region]()
    err, _ = ulp_error("log", x)
    assert err <= MAX_ULP64, (region, err)


@pytest.mark.parametrize("region", ["unit", "near_zero", "near_minus_one", "positive", "negative"])
def test_log1p_float64_ulp(region):
    r = rng(3)
    x = {
        "unit": lambda: r.uniform(-1.0, 1.0, 2 * N),
        "near_zero": lambda: np.concatenate([bit_patterns64(r, N // 2, 1, 0x3FD0000000000000),
                                             -bit_patterns64(r, N // 2, 1, 0x3FD0000000000000)]),
        # -1 + 2^-k: the hardest arguments, where 1 + x cancels
        "near_minus_one": lambda: -1.0 + bit_patterns64(r, N, 0x3CA0000000000000, 0x3FE0000000000000),
        "positive": lambda: bit_patterns64(r, N, *POS64),
        "negative": lambda: -bit_patterns64(r, N, 1, 0x3FF0000000000000),  # (-1, 0)
    }[region]()
    err, _ = ulp_error("log1p", x)
    assert err <= MAX_ULP64, (region, err)


def test_log1p_tiny_is_identity_float64():
    r = rng(4)
    x = np.concatenate([bit_patterns64(r, N // 2, 1, 0x3C90000000000000),  # |x| < 2^-54
                        -bit_patterns64(r, N // 2, 1, 0x3C90000000000000)])
    np.testing.assert_array_equal(vm.vlog1p(x), x)


# ----------------------------------------------------------------------------------- float32

@pytest.mark.parametrize("region", ["whole", "small", "tiny", "overflow", "subnormal_out"])
def test_exp_float32_ulp(region):
    r = rng(11)
    x = {
        "whole": lambda: r.uniform(-104.0, 88.72, 2 * N),
        "small": lambda: r.uniform(-1.0, 1.0, N),
        "tiny": lambda: np.concatenate([bit_patterns32(r, N // 2, 1, 0x33000000),
                                        -bit_patterns32(r, N // 2, 1, 0x33000000)]),
        "overflow": lambda: r.uniform(88.0, 88.7228, N),
        "subnormal_out": lambda: r.uniform(-104.0, -87.3, N),
    }[region]().astype(np.float32)
    err, _ = ulp_error("exp", x)
    assert err <= MAX_ULP32, (region, err)


def test_exp_float32_exhaustive_near_thresholds():
    # every float32 from 88.0 up past the overflow threshold and from -87.3 down to underflow
    lo = np.float32(88.0).view(np.uint32)
    hi = np.float32(89.0).view(np.uint32)
    over = np.arange(lo, hi, dtype=np.uint32).view(np.float32)
    lo = np.float32(87.0).view(np.uint32)
    hi = np.float32(104.0).view(np.uint32)
    under = -np.arange(lo, hi, dtype=np.uint32).view(np.float32)
    err, _ = ulp_error("exp", np.concatenate([over, under]))
    assert err <= MAX_ULP32, err


@pytest.mark.parametrize("region", ["whole", "near_one", "subnormal"])
def test_log_float32_ulp(region):
    r = rng(12)
    x = {
        "whole": lambda: bit_patterns32(r, 2 * N, *POS32),
        "near_one": lambda: np.concatenate([np.arange(np.float32(0.99).view(np.uint32),
                                                      np.float32(1.01).view(np.uint32),
                                                      dtype=np.uint32).view(np.float32),
                                            r.uniform(0.7, 1.42, N).astype(np.float32)]),
        "subnormal": lambda: bit_patterns32(r, N, 1, 0x00800000),
    }[region]()
    err, _ = ulp_error("log", x)
    assert err <= MAX_ULP32, (region, err)


@pytest.mark.parametrize("region", ["unit", "near_zero", "near_minus_one", "positive", "negative"])
def test_log1p_float32_ulp(region):
    r = rng(13)
    x = {
        "unit": lambda: r.uniform(-1.0, 1.0, 2 * N).astype(np.float32),
        "near_zero": lambda: np.concatenate([bit_patterns32(r, N // 2, 1, 0x3E800000),
                                             -bit_patterns32(r, N // 2, 1, 0x3E800000)]),
        # every float32 in (-1, -0.5]
        "near_minus_one": lambda: -np.arange(np.float32(0.5).view(np.uint32),
                                             np.float32(1.0).view(np.uint32),
                                             dtype=np.uint32).view(np.float32),
        "positive": lambda: bit_patterns32(r, N, *POS32),
        "negative": lambda: -bit_patterns32(r, N, 1, 0x3F800000),
    }[region]()
    err, _ = ulp_error("log1p", x)
    assert err <= MAX_ULP32, (region, err)


def test_log1p_tiny_is_identity_float32():
    r = rng(14)
    x = np.concatenate([bit_patterns32(r, N // 2, 1, 0x33000000),  # |x| < 2^-25
                        -bit_patterns32(r, N // 2, 1, 0x33000000)])
    np.testing.assert_array_equal(vm.vlog1p(x), x)


# ------------------------------------------------- exp on x <= 0 and log1p on [0, 1] (softplus)

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_neg_is_exp_bit_for_bit(dtype):
    """fl_exp_neg (softplus's exp(-|z|)) gives fl_exp's bits for every x <= 0 - its single
    scaling step rounds subnormal results once, as fl_exp's two steps do - so its accuracy and
    thresholds are exp's. (Checked exhaustively for float32 while writing it; this samples.)"""
    r = rng(31)
    fi = np.finfo(dtype)
    if dtype == np.float64:
        x, ints = -bit_patterns64(r, N, 0, 0x7FF0000000000001), np.uint64
    else:
        x, ints = -bit_patterns32(r, N, 0, 0x7F800001), np.uint32
    tiny = float(np.log(fi.smallest_subnormal))  # where results leave the subnormals
    dense = np.linspace(tiny - 2, np.log(fi.smallest_normal) + 1, 200_001).astype(dtype)
    ends = np.array([0.0, -0.0, -np.inf, np.nan, -1000.0, -110.0, -fi.max], dtype)
    x = np.concatenate([x, dense, ends])
    np.testing.assert_array_equal(vm.vexp_neg(x).view(ints), vm.vexp(x).view(ints))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_unit_ulp_and_ends(dtype):
    """fl_log1p_unit (softplus's log1p(exp(-|z|)), argument in [0, 1]) within 1 ulp of the
    extended reference, as fl_log1p, over every binade of [0, 1] and uniform values, with a dense
    window of consecutive values around its switch at sqrt(2) - 1 and around 1/2 and 1 (where the
    rounding of 1 + e is coarsest); and its ends exactly: 0 (+0.0), the subnormals (log1p(e) = e),
    1 (log 2 rounded) and NaN. (Checked while writing it, in all three ISA variants: every float32
    in [0, 1], 0.83 ulp; float64 on 16M samples, 0.83.)"""
    r = rng(30)
    if dtype == np.float64:
        x = np.concatenate([bit_patterns64(r, N, 0, 0x3FF0000000000001), r.uniform(0.0, 1.0, N)])
        ints, max_ulp = np.int64, MAX_ULP64
    else:
        x = np.concatenate([bit_patterns32(r, N, 0, 0x3F800001), r.uniform(0.0, 1.0, N).astype(np.float32)])
        ints, max_ulp = np.int32, MAX_ULP32
    windows = [(np.arange(-50_000, 50_000) + int(np.array(c, dtype).view(ints))).astype(ints).view(dtype)
               for c in (np.sqrt(2) - 1, 0.5)]
    below_one = (np.arange(-100_000, 1) + int(np.array(1.0, dtype).view(ints))).astype(ints).view(dtype)
    x = np.concatenate([x, *windows, below_one])
    assert max_ulps(vm.vlog1p_unit(x), np.log1p(x.astype(LD))) <= max_ulp
    tiny = np.finfo(dtype).smallest_subnormal
    ends = np.array([0.0, tiny, 1000 * tiny, 1.0, np.nan], dtype)
    y = vm.vlog1p_unit(ends)
    np.testing.assert_array_equal(y, np.array([0.0, tiny, 1000 * tiny, np.log(2.0), np.nan], dtype))
    assert not np.signbit(y[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_pair_ulp_and_ends(dtype):
    """fl_log_unit / fl_log1m_unit (binary_cross_entropy's log(p) and log1p(-p), p in [0, 1], computed
    as one pair from a = min(p, 1 - p)): within 1 ulp of the extended reference over every binade
    of [0, 1] (subnormals included) and over consecutive values around the pair's switch points -
    1/2, where a swaps, and 1 - sqrt(2)/2 and sqrt(2)/2, where log1p(-a) changes form - and next to
    0 and 1; the ends exact: 0 -> (-inf, +0), -0.0 -> (-inf, +0), 1 -> (+0, -inf), NaN -> (NaN, NaN).
    (Every float32 in [0, 1] was checked while writing it: 0.83 ulp for both.)"""
    r = rng(32)
    if dtype == np.float64:
        x, ints, view = bit_patterns64(r, 2 * N, 0, 0x3FF0000000000001), np.uint64, np.float64
        x = np.concatenate([x, r.uniform(0.0, 1.0, N)])
    else:
        x, ints, view = bit_patterns32(r, 2 * N, 0, 0x3F800001), np.uint32, np.float32
        x = np.concatenate([x, r.uniform(0.0, 1.0, N).astype(np.float32)])

    def window(centre):
        c = int(dtype(centre).view(ints))
        return (ints(c - 50_000) + np.arange(100_000).astype(ints)).view(view)

    near_one = (ints(int(dtype(1).view(ints)) - 99_999) + np.arange(100_000).astype(ints)).view(view)
    x = np.concatenate([x, window(0.5), window(1 - np.sqrt(0.5)), window(np.sqrt(0.5)), near_one,
                        np.arange(1, 100_000).astype(ints).view(view)])
    assert x.min() >= 0 and x.max() <= 1
    lx, l1x = vm.vlog_pair(x)
    assert lx.dtype == dtype and l1x.dtype == dtype
    with np.errstate(divide="ignore"):
        assert max_ulps(lx, np.log(x.astype(LD))) <= MAX_ULP64
        assert max_ulps(l1x, np.log1p(-x.astype(LD))) <= MAX_ULP64

    ends = np.array([0.0, -0.0, 1.0, np.nan, 0.5], dtype)
    lx, l1x = vm.vlog_pair(ends)
    np.testing.assert_array_equal(lx, np.array([-np.inf, -np.inf, 0.0, np.nan, np.log(dtype(0.5))], dtype))
    np.testing.assert_array_equal(l1x, np.array([0.0, 0.0, -np.inf, np.nan, np.log(dtype(0.5))], dtype))
    assert not np.signbit(l1x[:2]).any() and not np.signbit(lx[2])
    # in a vector's lanes among ordinary values as well
    mixed = np.linspace(0.0, 1.0, 37).astype(dtype)
    mixed[::5] = np.nan
    lx, l1x = vm.vlog_pair(mixed)
    np.testing.assert_array_equal(np.isnan(lx), np.isnan(mixed))
    np.testing.assert_array_equal(np.isnan(l1x), np.isnan(mixed))


# --------------------------------------------------------------------------- special values

INF, NAN = np.inf, np.nan

def special_cases(name, dtype):
    """(x, libm's result) pairs, every x representable in dtype."""
    fi = np.finfo(dtype)
    below_minus_one = np.nextafter(dtype(-1.0), dtype(-2.0))
    return {
        "exp": [(NAN, NAN), (INF, INF), (-INF, 0.0), (0.0, 1.0), (-0.0, 1.0), (1000.0, INF),
                (-1000.0, 0.0), (fi.max, INF), (-fi.max, 0.0), (fi.smallest_subnormal, 1.0)],
        "log": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, -INF), (-0.0, -INF), (1.0, 0.0),
                (-1.0, NAN), (-1e-30, NAN), (-fi.smallest_subnormal, NAN), (fi.max, np.log(fi.max))],
        "log1p": [(NAN, NAN), (INF, INF), (-INF, NAN), (0.0, 0.0), (-0.0, -0.0), (-1.0, -INF),
                  (-1.5, NAN), (-fi.max, NAN), (below_minus_one, NAN),
                  (fi.smallest_subnormal, fi.smallest_subnormal),
                  (-fi.smallest_subnormal, -fi.smallest_subnormal)],
    }[name]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["exp", "log", "log1p"])
def test_special_values(name, dtype):
    cases = special_cases(name, dtype)
    x = np.array([a for a, _ in cases], dtype)
    expected = np.array([b for _, b in cases], dtype)
    y = FUN[name](x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, expected)  # NaN == NaN here, values and infinities exact
    # signs of zeros exactly (assert_array_equal does not see them)
    np.testing.assert_array_equal(np.signbit(y[expected == 0]), np.signbit(expected[expected == 0]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_thresholds(dtype):
    """Overflow to inf exactly past the largest finite result; underflow through the subnormals
    to the smallest one and then to 0, as libm (checked against the extended reference)."""
    fi = np.finfo(dtype)
    big = np.log(LD(fi.max))  # exp(big) = max
    last = dtype(big)  # the largest x of dtype with a finite exp
    if LD(last) > big:
        last = np.nextafter(last, dtype(-np.inf))
    tiny = np.log(LD(fi.smallest_subnormal))
    x = np.array([last, np.nextafter(last, dtype(np.inf)), big + 1, tiny, tiny - LD(0.3),
                  tiny - LD(0.8), np.log(LD(fi.smallest_normal))]).astype(dtype)
    y = vm.vexp(x)
    with np.errstate(over="ignore"):
        ref = np.exp(x.astype(LD)).astype(dtype)
    np.testing.assert_array_equal(y, ref)
    assert np.isinf(y[1]) and np.isinf(y[2]) and np.isfinite(y[0])
    assert y[3] == fi.smallest_subnormal and y[5] == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["exp", "log", "log1p"])
def test_nan_payload_and_sign_propagate(name, dtype):
    """A NaN input gives a NaN (whatever lane it sits in, among ordinary values)."""
    x = np.linspace(0.1, 3.0, 37).astype(dtype)
    x[::5] = np.nan
    x[3] = -np.nan
    y = FUN[name](x)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["exp", "log", "log1p"])
def test_vector_body_and_scalar_tail_agree(name, dtype):
    """The vectorised loop body and its scalar remainder must give identical bits, so a value
    does not depend on its position in an array (or on the array's length)."""
    r = rng(20)
    x = r.uniform(0.0, 5.0, 64).astype(dtype)
    if name != "exp":
        x = np.abs(x)
    full = FUN[name](x)
    for n in range(1, 20):
        for start in (0, 1, 3):
            part = FUN[name](x[start:start + n])
            np.testing.assert_array_equal(part.view(np.uint8), full[start:start + n].view(np.uint8))


# ------------------------------------------------------------------------------ vectorisation

HEADER_DIR = os.path.join(os.path.dirname(__file__), os.pardir, "src", "fastloss", "_cpu")
LOOPS = """
#include "vecmath.h"
#include <stddef.h>
#define LOOP(name, T, fn) \\
    void name(const T *x, T *y, ptrdiff_t n) { for (ptrdiff_t i = 0; i < n; i++) y[i] = fn(x[i]); }
#define LOOP_PAIR(name, T, fa, fb) \\
    void name(const T *x, T *y, T *z, ptrdiff_t n) \\
    { for (ptrdiff_t i = 0; i < n; i++) { T v = x[i]; y[i] = fa(v); z[i] = fb(v); } }
LOOP(v_exp, double, fl_exp)
LOOP(v_log, double, fl_log)
LOOP(v_log1p, double, fl_log1p)
LOOP(v_expf, float, fl_expf)
LOOP(v_logf, float, fl_logf)
LOOP(v_log1pf, float, fl_log1pf)
LOOP(v_exp_neg, double, fl_exp_neg)
LOOP(v_expf_neg, float, fl_expf_neg)
LOOP_PAIR(v_log_pair, double, fl_log_unit, fl_log1m_unit)
LOOP_PAIR(v_logf_pair, float, fl_logf_unit, fl_log1mf_unit)
LOOP(v_log1p_unit, double, fl_log1p_unit)
LOOP(v_log1pf_unit, float, fl_log1pf_unit)
"""


@pytest.mark.skipif(sys.platform != "linux" or shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("arch", [[], ["-mavx2"]], ids=["baseline", "avx2"])
def test_loops_vectorize_with_the_build_flags(tmp_path, arch):
    """Every function, in a plain loop (as the kernels use them, no restrict), is vectorised by
    gcc with the package's flags (-O3 -fno-math-errno, default -ftrapping-math, no fast-math).
    The log pair is used as binary_cross_entropy uses it: both halves on each element."""
    src = tmp_path / "loops.c"
    src.write_text(LOOPS)
    out = subprocess.run(["gcc", "-O3", "-fno-math-errno", *arch, "-fopt-info-vec-optimized",
                          "-I", HEADER_DIR, "-c", str(src), "-o", str(tmp_path / "loops.o")],
                         capture_output=True, text=True, check=True)
    lines = {int(msg.split(":")[1]) for msg in out.stderr.splitlines() if "loop vectorized" in msg}
    loop_lines = [i + 1 for i, line in enumerate(LOOPS.splitlines())
                  if line.startswith(("LOOP(v_", "LOOP_PAIR(v_"))]
    assert set(loop_lines) <= lines, out.stderr
