"""Every loss on the tour's examples (torch's documentation examples): read-only inputs, float64,
float16, thread counts, module classes — the dtype x layout x threads matrix of the machinery."""
import warnings

import numpy as np
import pytest

import fastloss as fl
import fastloss.nn as fnn
from fastloss.__main__ import examples

CASES = examples(np.random.default_rng(0))
IDS = [c[0] for c in CASES]


def _with_float_dtype(args, dtype):
    return tuple(a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args)


def _kwargs_with_float_dtype(kwargs, dtype):
    return {k: (v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v) for k, v in kwargs.items()}


def _read_only(args):
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            a = a.copy()
            a.flags.writeable = False
        out.append(a)
    return tuple(out)


def _vag(name, args, kwargs, wrt):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fl.value_and_grad(name, *args, wrt=wrt, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_read_only_inputs(case):
    _, name, args, kwargs, wrt = case
    loss, grads = _vag(name, args, kwargs, wrt)
    loss_ro, grads_ro = _vag(name, _read_only(args), kwargs, wrt)
    assert float(loss) == float(loss_ro)
    for w in wrt:
        np.testing.assert_array_equal(grads[w], grads_ro[w])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float64_and_float32_agree_and_keep_their_dtype(case):
    _, name, args, kwargs, wrt = case
    loss32, grads32 = _vag(name, args, kwargs, wrt)
    loss64, grads64 = _vag(name, _with_float_dtype(args, np.float64), _kwargs_with_float_dtype(kwargs, np.float64), wrt)
    assert loss32.dtype == np.float32 and loss64.dtype == np.float64
    np.testing.assert_allclose(loss32, loss64, rtol=1e-4, atol=1e-5)
    for w in wrt:
        assert grads32[w].dtype == np.float32 and grads64[w].dtype == np.float64
        np.testing.assert_allclose(grads32[w], grads64[w], rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float16_computed_in_float32_returned_as_float16(case):
    _, name, args, kwargs, wrt = case
    args16, kwargs16 = _with_float_dtype(args, np.float16), _kwargs_with_float_dtype(kwargs, np.float16)
    loss16, grads16 = _vag(name, args16, kwargs16, wrt)
    loss32, _ = _vag(name, _with_float_dtype(args16, np.float32), _kwargs_with_float_dtype(kwargs16, np.float32), wrt)
    assert loss16.dtype == np.float16
    assert loss16 == np.float16(loss32)
    for w in wrt:
        assert grads16[w].dtype == np.float16


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_thread_counts_give_identical_results(case):
    _, name, args, kwargs, wrt = case
    before = fl.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            fl.set_num_threads(n)
            results.append(_vag(name, args, kwargs, wrt))
    finally:
        fl.set_num_threads(before)
    assert float(results[0][0]) == float(results[1][0])
    for w in wrt:
        np.testing.assert_array_equal(results[0][1][w], results[1][1][w])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_module_class_matches_functional(case):
    title, name, args, kwargs, wrt = case
    cls = next(getattr(fnn, c) for c in fnn.__all__ if getattr(getattr(fnn, c), "function", None) == name)
    crit = cls(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = crit(*args)
        grads = crit.backward()
    loss, expected = _vag(name, args, kwargs, wrt)
    assert float(value) == float(loss)
    for w in wrt:
        np.testing.assert_array_equal(grads[w], expected[w])
