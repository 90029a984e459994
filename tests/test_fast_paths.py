"""The common-case fast paths (class-index nll/cross_entropy, multi_margin, multilabel_margin) give
the general path's results bit for bit, are taken exactly when the call is the common case, and
leave every refusal to the general path (same error, same message)."""
import numpy as np
import pytest
from fast_path_helpers import general_path, spy_fast_path

import fastloss as fl
from fastloss._losses import classification, margin

DTYPES = (np.float32, np.float64)


def _inputs(dtype, N=8, C=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C)).astype(dtype)
    labels = rng.integers(0, C, N)
    multilabel = np.full((N, C), -1, dtype=np.int64)
    multilabel[:, 0] = labels
    multilabel[:, 1] = (labels + 3) % C
    return x, labels, multilabel


CALLS = {
    "nll_loss": (classification, "_fast_class_index", lambda x, y, m, **kw: fl.nll_loss(x, y, **kw)),
    "cross_entropy": (classification, "_fast_class_index", lambda x, y, m, **kw: fl.cross_entropy(x, y, **kw)),
    "multi_margin_loss": (margin, "_fast_rows", lambda x, y, m, **kw: fl.multi_margin_loss(x, y, **kw)),
    "multi_margin_loss-p2": (margin, "_fast_rows", lambda x, y, m, **kw: fl.multi_margin_loss(x, y, p=2, margin=0.5,
                                                                                              **kw)),
    "multilabel_margin_loss": (margin, "_fast_rows", lambda x, y, m, **kw: fl.multilabel_margin_loss(x, m, **kw)),
}


def _loss_fn(name):
    return getattr(fl, name.split("-")[0])




@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("N", [1, 8, 300, 4000])  # 4000 rows: a two-thread team
def test_fast_path_equals_the_general_path_bit_for_bit(monkeypatch, name, dtype, reduction, N):
    module, attr, call = CALLS[name]
    x, y, m = _inputs(dtype, N=N)
    taken = spy_fast_path(monkeypatch, module, attr)
    fast = call(x, y, m, reduction=reduction)
    assert taken == [True]
    general = general_path(monkeypatch, module, attr, lambda: call(x, y, m, reduction=reduction))
    assert fast.dtype == general.dtype == dtype and fast.shape == general.shape == ()
    assert fast.tobytes() == general.tobytes()

    fn = _loss_fn(name)
    kwargs = {"p": 2, "margin": 0.5} if name.endswith("-p2") else {}
    target = m if name.startswith("multilabel") else y
    loss, grads = fl.value_and_grad(fn, x, target, reduction=reduction, **kwargs)
    assert taken == [True, True]
    loss0, grads0 = general_path(monkeypatch, module, attr,
                             lambda: fl.value_and_grad(fn, x, target, reduction=reduction, **kwargs))
    assert loss.tobytes() == loss0.tobytes() and loss.tobytes() == fast.tobytes()
    assert set(grads) == set(grads0) == {"input"}
    assert grads["input"].dtype == dtype and grads["input"].shape == x.shape
    assert grads["input"].tobytes() == grads0["input"].tobytes()


def test_fast_class_index_value_against_a_direct_formula():
    # an independent check of the fast path's value and gradient (float64 log-softmax by NumPy)
    x, y, _ = _inputs(np.float64, N=5, C=7)
    logp = x - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)) - x.max(1, keepdims=True)
    loss, grads = fl.value_and_grad(fl.cross_entropy, x, y)
    np.testing.assert_allclose(loss, -logp[np.arange(5), y].mean(), rtol=1e-14)
    expected = np.exp(logp)
    expected[np.arange(5), y] -= 1
    np.testing.assert_allclose(grads["input"], expected / 5, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(fl.nll_loss(x, y, reduction="sum"), -x[np.arange(5), y].sum(), rtol=1e-15)


UNCOMMON = {
    # calls the fast paths hand to the general path: each must still give its result or its error
    "ignored target": lambda x, y, m: fl.cross_entropy(x, np.where(np.arange(len(y)) == 0, -100, y)),
    "ignore_index inside the labels": lambda x, y, m: fl.nll_loss(x, y, ignore_index=int(y[0])),
    "nll ignored target": lambda x, y, m: fl.nll_loss(x, np.where(np.arange(len(y)) == len(y) - 1, -100, y)),
    "int32 target": lambda x, y, m: fl.nll_loss(x, y.astype(np.int32)),
    "strided target": lambda x, y, m: fl.cross_entropy(x, np.repeat(y, 2)[::2]),
    "transposed input": lambda x, y, m: fl.cross_entropy(np.asfortranarray(x), y),
    "weight": lambda x, y, m: fl.nll_loss(x, y, weight=np.ones(x.shape[1], x.dtype)),
    "label smoothing": lambda x, y, m: fl.cross_entropy(x, y, label_smoothing=0.1),
    "none": lambda x, y, m: fl.multi_margin_loss(x, y, reduction="none"),
    "legacy size_average": lambda x, y, m: fl.multilabel_margin_loss(x, m, size_average=False),
    "float16": lambda x, y, m: fl.multi_margin_loss(x.astype(np.float16), y),
    "list input": lambda x, y, m: fl.nll_loss(x.tolist(), y),
}


@pytest.mark.filterwarnings("ignore:size_average and reduce")
@pytest.mark.parametrize("case", list(UNCOMMON))
def test_uncommon_calls_take_the_general_path(monkeypatch, case):
    x, y, m = _inputs(np.float32)
    taken = (spy_fast_path(monkeypatch, classification, "_fast_class_index")
             + spy_fast_path(monkeypatch, margin, "_fast_rows"))
    result = UNCOMMON[case](x, y, m)
    assert np.all(np.isfinite(result))
    assert not any(taken)


REFUSED = {
    "label out of range": (lambda x, y, m: fl.cross_entropy(x, np.where(np.arange(len(y)) == 0, 10, y)),
                           IndexError, "target"),
    "negative label": (lambda x, y, m: fl.nll_loss(x, np.where(np.arange(len(y)) == 0, -1, y)), IndexError,
                       "target"),
    "nll label out of range": (lambda x, y, m: fl.nll_loss(x, np.where(np.arange(len(y)) == 1, 2 ** 40, y)),
                               IndexError, "target"),
    "batch mismatch": (lambda x, y, m: fl.cross_entropy(x, y[:-1]), ValueError, "batch_size"),
    "multi_margin label out of range": (lambda x, y, m: fl.multi_margin_loss(x, y + 10), IndexError, "target"),
    "multilabel label out of range": (lambda x, y, m: fl.multilabel_margin_loss(x, m + 20), IndexError, "target"),
    "multilabel shape": (lambda x, y, m: fl.multilabel_margin_loss(x, m[:, :-1]), ValueError, "target.shape"),
    "bad reduction": (lambda x, y, m: fl.nll_loss(x, y, reduction="avg"), ValueError, "reduction"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refusals_are_the_general_paths(case):
    x, y, m = _inputs(np.float32)
    call, error, words = REFUSED[case]
    with pytest.raises(error, match=words):
        call(x, y, m)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("bad", [-1, 3, 2 ** 62])
def test_nll_forward_refuses_a_bad_label_anywhere(threads, bad):
    # nll's common forward checks the targets in the kernel's pass, over each thread's share:
    # a bad label in the last of many samples still gives the general path's error
    rng = np.random.default_rng(5)
    x = rng.standard_normal((70_001, 3)).astype(np.float32)
    y = rng.integers(0, 3, 70_001)
    before = fl.get_num_threads()
    fl.set_num_threads(threads)
    try:
        y[-1] = bad
        with pytest.raises(IndexError, match="target"):
            fl.nll_loss(x, y)
        y[-1] = 2
        expected = -x[np.arange(70_001), y].astype(np.float64).sum()
        np.testing.assert_allclose(fl.nll_loss(x, y, reduction="sum"), expected, rtol=1e-6)
    finally:
        fl.set_num_threads(before)
