"""The compiled common-case entries of multi_margin_loss, multilabel_margin_loss and ctc_loss
(``common_case`` in _cpu/margin.pyx and _cpu/ctc.pyx, reached through ``margin._fast_rows`` and
``ctc._fast_ctc``): their results equal the general path's bit for bit and independent formulas,
they are taken exactly in the common case, and every other call (and every refusal) is the
general path's, with its errors."""
import numpy as np
import pytest
from fast_path_helpers import general_path, spy_fast_path

import fastloss as fl
from fastloss import _threads
from fastloss._losses import _common, ctc, margin

DTYPES = (np.float32, np.float64)


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.setattr(_threads, "_explicit", 2)




def _rows_inputs(dtype, N, C, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C)).astype(dtype)
    labels = rng.integers(0, C, N)
    multilabel = np.full((N, C), -1, dtype=np.int64)
    for n in range(N):
        k = int(rng.integers(0, min(C, 4) + 1))
        multilabel[n, :k] = rng.choice(C, k, replace=False)
    if N > 1 and C > 2:
        multilabel[1, :3] = (0, 0, -1)                  # a repeated class (it counts twice, as in torch)
        multilabel[1, 3:] = rng.integers(-1, C, C - 3)  # and entries after the first -1 (not targets)
    return x, labels, multilabel


def _ctc_inputs(dtype, T, N, C, S, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C))
    lp = (x - np.log(np.exp(x).sum(axis=2, keepdims=True))).astype(dtype)
    targets = rng.integers(1, C, (N, S), dtype=np.int64)
    il = rng.integers(max(1, T // 2), T + 1, N).astype(np.int64)
    il[0] = T
    tl = rng.integers(0, S + 1, N).astype(np.int64)
    if N > 2:
        targets[2, :] = 1 + (np.arange(S) // 2) % (C - 1)  # repeated labels
        targets[1, tl[1]:] = 10 ** 6                      # padding may hold anything
    return lp, targets, il, tl


ROW_CALLS = {
    "multi_margin": lambda x, y, m, **kw: (fl.multi_margin_loss, (x, y), kw),
    "multi_margin-p2": lambda x, y, m, **kw: (fl.multi_margin_loss, (x, y), dict(kw, p=2, margin=0.5)),
    "multi_margin-int-margin": lambda x, y, m, **kw: (fl.multi_margin_loss, (x, y), dict(kw, margin=2)),
    "multilabel_margin": lambda x, y, m, **kw: (fl.multilabel_margin_loss, (x, m), kw),
}


@pytest.mark.parametrize("name", list(ROW_CALLS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
# 1 element; the benchmark's 8x10; more rows than the partials Python sums (NumPy's sum); 2 threads
@pytest.mark.parametrize("N,C", [(1, 1), (8, 10), (100, 7), (300, 128)])
def test_rows_fast_entry_equals_the_general_path_bit_for_bit(monkeypatch, two_threads, name, dtype, reduction,
                                                             N, C):
    fn, args, kwargs = ROW_CALLS[name](*_rows_inputs(dtype, N, C), reduction=reduction)
    taken = spy_fast_path(monkeypatch, margin, "_fast_rows")
    fast = fn(*args, **kwargs)
    loss, grads = fl.value_and_grad(fn, *args, **kwargs)
    assert taken == [True, True]
    general = general_path(monkeypatch, margin, "_fast_rows", lambda: fn(*args, **kwargs))
    loss0, grads0 = general_path(monkeypatch, margin, "_fast_rows", lambda: fl.value_and_grad(fn, *args, **kwargs))
    for value in (fast, loss):
        assert type(value) is np.ndarray and value.dtype == dtype and value.shape == ()
        assert value.tobytes() == general.tobytes() == loss0.tobytes()
    assert set(grads) == set(grads0) == {"input"}
    assert grads["input"].dtype == dtype and grads["input"].shape == (N, C)
    assert grads["input"].tobytes() == grads0["input"].tobytes()


def _multi_margin_reference(x, y, p, m):
    N, C = x.shape
    z = np.maximum(m - x[np.arange(N), y][:, None] + x, 0.0)
    z[np.arange(N), y] = 0.0
    loss = (z ** p).sum(axis=1) / C
    g = (p * z ** (p - 1) * (z > 0)) / C
    g[np.arange(N), y] = -g.sum(axis=1)
    return loss, g


def _multilabel_reference(x, target):
    N, C = x.shape
    loss = np.zeros(N)
    g = np.zeros((N, C))
    for n in range(N):
        J = []
        for k in target[n]:
            if k < 0:
                break
            J.append(int(k))
        others = [i for i in range(C) if i not in J]
        for j in J:
            for i in others:
                z = 1 - x[n, j] + x[n, i]
                if z > 0:
                    loss[n] += z / C
                    g[n, i] += 1 / C
                    g[n, j] -= 1 / C
    return loss, g


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_rows_fast_entry_against_direct_formulas(monkeypatch, reduction):
    x, y, m = _rows_inputs(np.float64, 9, 6, seed=3)
    taken = spy_fast_path(monkeypatch, margin, "_fast_rows")
    scale = 1 / 9 if reduction == "mean" else 1.0
    for p, mg in ((1, 1.0), (2, 0.5)):
        loss_n, g = _multi_margin_reference(x, y, p, mg)
        loss, grads = fl.value_and_grad(fl.multi_margin_loss, x, y, p=p, margin=mg, reduction=reduction)
        np.testing.assert_allclose(loss, loss_n.sum() * scale, rtol=1e-14)
        np.testing.assert_allclose(grads["input"], g * scale, rtol=1e-14, atol=1e-17)
    loss_n, g = _multilabel_reference(x, m)
    loss, grads = fl.value_and_grad(fl.multilabel_margin_loss, x, m, reduction=reduction)
    np.testing.assert_allclose(loss, loss_n.sum() * scale, rtol=1e-14)
    np.testing.assert_allclose(grads["input"], g * scale, rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(fl.multilabel_margin_loss(x, m, reduction=reduction), loss_n.sum() * scale,
                               rtol=1e-14)
    assert taken == [True, True, True, True]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", DTYPES)
# the benchmark's tiny call; 1 sample of 1 step; more samples than the partials Python sums, on 2
# threads; one long sample split between 2 threads (alpha and beta halves)
@pytest.mark.parametrize("T,N,C,S", [(12, 8, 10, 4), (1, 1, 2, 1), (64, 80, 6, 4), (500, 1, 6, 40)])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_fast_entry_equals_the_general_path_bit_for_bit(monkeypatch, two_threads, reduction, dtype, T, N, C,
                                                            S, zero_infinity):
    lp, targets, il, tl = _ctc_inputs(dtype, T, N, C, S)
    if N > 3:
        il[3], tl[3] = 2, S   # no alignment: an infinite loss (zeroed with zero_infinity)
    kwargs = dict(reduction=reduction, zero_infinity=zero_infinity)
    taken = spy_fast_path(monkeypatch, ctc, "_fast_ctc")
    fast = fl.ctc_loss(lp, targets, il, tl, **kwargs)
    loss, grads = fl.value_and_grad(fl.ctc_loss, lp, targets, il, tl, **kwargs)
    assert taken == [True, True]
    general = general_path(monkeypatch, ctc, "_fast_ctc", lambda: fl.ctc_loss(lp, targets, il, tl, **kwargs))
    loss0, grads0 = general_path(monkeypatch, ctc, "_fast_ctc",
                             lambda: fl.value_and_grad(fl.ctc_loss, lp, targets, il, tl, **kwargs))
    for value in (fast, loss):
        assert type(value) is np.ndarray and value.dtype == dtype and value.shape == ()
        assert value.tobytes() == general.tobytes() == loss0.tobytes()
    assert set(grads) == set(grads0) == {"log_probs"}
    assert grads["log_probs"].dtype == dtype and grads["log_probs"].shape == lp.shape
    assert grads["log_probs"].tobytes() == grads0["log_probs"].tobytes()
    if N > 3 and not zero_infinity:
        assert np.isinf(fast)


def test_ctc_fast_entry_bit_identical_across_thread_counts(monkeypatch):
    """Every call parallel (the threshold at 0), batches below and above the team size: each
    forward and gradient equal bit for bit to the one-thread result."""
    monkeypatch.setattr(_common, "PARALLEL_MIN_WORK", 0)
    rng = np.random.default_rng(11)
    taken = spy_fast_path(monkeypatch, ctc, "_fast_ctc")
    for case in range(40):
        N = int(rng.integers(1, 6))
        dtype = DTYPES[case % 2]
        lp, targets, il, tl = _ctc_inputs(dtype, int(rng.integers(60, 140)), N, int(rng.integers(3, 12)),
                                          int(rng.integers(1, 20)), seed=case)
        monkeypatch.setattr(_threads, "_explicit", 1)
        loss1 = fl.ctc_loss(lp, targets, il, tl)
        vloss1, grads1 = fl.value_and_grad(fl.ctc_loss, lp, targets, il, tl)
        for threads in (2, N + 1, 2 * N + 2):
            monkeypatch.setattr(_threads, "_explicit", threads)
            loss = fl.ctc_loss(lp, targets, il, tl)
            vloss, grads = fl.value_and_grad(fl.ctc_loss, lp, targets, il, tl)
            assert loss.tobytes() == loss1.tobytes() and vloss.tobytes() == vloss1.tobytes()
            assert grads["log_probs"].tobytes() == grads1["log_probs"].tobytes()
    assert all(taken) and len(taken) == 40 * 8


def _ctc_reference(lp, targets, il, tl, blank=0):
    """Per-sample negative log-likelihoods: the log-space alpha recursion over the blank-extended
    target, in float64."""
    nll = []
    for n in range(lp.shape[1]):
        ext = [blank]
        for k in targets[n, :tl[n]]:
            ext += [int(k), blank]
        alpha = np.full(len(ext), -np.inf)
        alpha[0] = lp[0, n, ext[0]]
        if len(ext) > 1:
            alpha[1] = lp[0, n, ext[1]]
        for t in range(1, il[n]):
            prev = alpha.copy()
            for s in range(len(ext)):
                terms = [prev[s]] + ([prev[s - 1]] if s >= 1 else [])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    terms.append(prev[s - 2])
                alpha[s] = np.logaddexp.reduce(terms) + lp[t, n, ext[s]]
        nll.append(-np.logaddexp.reduce(alpha[-2:] if len(ext) > 1 else alpha[-1:]))
    return np.array(nll)


def test_ctc_fast_entry_against_a_direct_recursion_and_finite_differences(monkeypatch):
    T, N, C = 6, 3, 5
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((T, N, C))

    def log_softmax(z):
        return z - np.log(np.exp(z - z.max(2, keepdims=True)).sum(2, keepdims=True)) - z.max(2, keepdims=True)

    targets = np.array([[1, 2], [3, 3], [4, 0]], dtype=np.int64)
    il = np.array([6, 5, 4], dtype=np.int64)
    tl = np.array([2, 2, 1], dtype=np.int64)
    lp = log_softmax(logits)
    taken = spy_fast_path(monkeypatch, ctc, "_fast_ctc")
    nll = _ctc_reference(lp, targets, il, tl)
    np.testing.assert_allclose(fl.ctc_loss(lp, targets, il, tl, reduction="sum"), nll.sum(), rtol=1e-13)
    loss, grads = fl.value_and_grad(fl.ctc_loss, lp, targets, il, tl)
    np.testing.assert_allclose(loss, (nll / np.maximum(tl, 1)).mean(), rtol=1e-13)
    # torch's gradient convention: the gradient with respect to the logits of the log_softmax
    eps = 1e-6
    numeric = np.zeros_like(logits)
    for index in np.ndindex(*logits.shape):
        up, down = logits.copy(), logits.copy()
        up[index] += eps
        down[index] -= eps
        f_up = (_ctc_reference(log_softmax(up), targets, il, tl) / np.maximum(tl, 1)).mean()
        f_down = (_ctc_reference(log_softmax(down), targets, il, tl) / np.maximum(tl, 1)).mean()
        numeric[index] = (f_up - f_down) / (2 * eps)
    np.testing.assert_allclose(grads["log_probs"], numeric, atol=1e-8)
    assert taken == [True, True]



@pytest.mark.parametrize("int32_lengths", [False, True], ids=["common case", "general path"])
def test_ctc_large_batch_order_scales_and_reduction_against_the_recursion(monkeypatch, two_threads, int32_lengths):
    """Above SMALL_SUM samples, with many tied lattice sizes (the compiled work queue's merge
    levels) and infeasible samples: every sample's loss, zero_infinity, both reductions and the
    per-sample gradient scales, against the direct recursion."""
    T, N, C, S = 8, 300, 5, 3
    rng = np.random.default_rng(21)
    x = rng.standard_normal((T, N, C))
    lp = x - np.log(np.exp(x).sum(axis=2, keepdims=True))
    targets = rng.integers(1, C, (N, S), dtype=np.int64)
    il = rng.choice([4, 6, 8], N).astype(np.int64)
    tl = rng.integers(0, S + 1, N).astype(np.int64)
    il[::7], tl[::7] = 2, 3   # no alignment: loss inf (and for other repeated labels too long for T_n)
    nll = _ctc_reference(lp, targets, il, tl)
    assert np.isinf(nll[::7]).all()
    lengths = (il.astype(np.int32), tl.astype(np.int32)) if int32_lengths else (il, tl)
    taken = spy_fast_path(monkeypatch, ctc, "_fast_ctc")
    np.testing.assert_allclose(fl.ctc_loss(lp, targets, *lengths, reduction="none"), nll, rtol=1e-12)
    zeroed = np.where(np.isinf(nll), 0.0, nll)
    np.testing.assert_allclose(fl.ctc_loss(lp, targets, *lengths, reduction="none", zero_infinity=True), zeroed,
                               rtol=1e-12)
    assert fl.ctc_loss(lp, targets, *lengths, reduction="sum") == np.inf
    np.testing.assert_allclose(fl.ctc_loss(lp, targets, *lengths, reduction="sum", zero_infinity=True),
                               zeroed.sum(), rtol=1e-12)
    loss, grads = fl.value_and_grad(fl.ctc_loss, lp, targets, *lengths, zero_infinity=True)
    np.testing.assert_allclose(loss, (zeroed / np.maximum(tl, 1)).mean(), rtol=1e-12)
    _, unit = fl.value_and_grad(fl.ctc_loss, lp, targets, *lengths, reduction="none", zero_infinity=True)
    # 'mean' scales sample n's gradient by 1 / (N max(target_length, 1)); infeasible samples: 0
    np.testing.assert_allclose(grads["log_probs"], unit["log_probs"] / (N * np.maximum(tl, 1))[None, :, None],
                               rtol=1e-12, atol=1e-300)
    assert not grads["log_probs"][:, np.isinf(nll)].any()
    assert taken == [False, False] + [not int32_lengths] * 3 + [False]   # 'none' is never the common case

def _bench_ctc():
    return _ctc_inputs(np.float32, 12, 8, 10, 4)


CTC_UNCOMMON = {
    # valid calls the fast entry hands to the general path: the result is the general path's
    "none": lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il, tl, reduction="none"),
    "concatenated targets": lambda lp, tg, il, tl: fl.ctc_loss(
        lp, np.concatenate([tg[n, :tl[n]] for n in range(len(tl))]), il, tl),
    "int32 targets": lambda lp, tg, il, tl: fl.ctc_loss(lp, tg.astype(np.int32), il, tl),
    "int32 lengths": lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il.astype(np.int32), tl),
    "list lengths": lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il.tolist(), tl.tolist()),
    "(1, N) lengths": lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il[None, :], tl),
    "strided log_probs": lambda lp, tg, il, tl: fl.ctc_loss(np.repeat(lp, 2, axis=2)[:, :, ::2], tg, il, tl),
    "strided targets": lambda lp, tg, il, tl: fl.ctc_loss(lp, np.repeat(tg, 2, axis=1)[:, ::2], il, tl),
    "float16": lambda lp, tg, il, tl: fl.ctc_loss(lp.astype(np.float16), tg, il, tl),
    "byte-swapped": lambda lp, tg, il, tl: fl.ctc_loss(lp.astype(lp.dtype.newbyteorder()), tg, il, tl),
    "unbatched": lambda lp, tg, il, tl: fl.ctc_loss(lp[:, 0], tg[0], il[:1], [tg.shape[1]]),
    "numpy blank": lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il, tl, blank=np.int64(0)),
    "numpy bool zero_infinity": lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il, tl, zero_infinity=np.bool_(True)),
    "grad_output": lambda lp, tg, il, tl: fl.value_and_grad(fl.ctc_loss, lp, tg, il, tl, grad_output=2.0)[0],
}


@pytest.mark.parametrize("case", list(CTC_UNCOMMON))
def test_ctc_uncommon_calls_take_the_general_path(monkeypatch, case):
    lp, tg, il, tl = _bench_ctc()
    taken = spy_fast_path(monkeypatch, ctc, "_fast_ctc")
    result = CTC_UNCOMMON[case](lp, tg, il, tl)
    assert np.all(np.isfinite(result))
    assert taken == [False]


def test_ctc_other_blank_and_padding_take_the_fast_entry(monkeypatch):
    lp, tg, il, tl = _bench_ctc()
    tg = np.where(tg == 9, 1, tg)
    tg[0, tl[0]:] = -7   # padding is not read
    taken = spy_fast_path(monkeypatch, ctc, "_fast_ctc")
    fast = fl.ctc_loss(lp, tg, il, tl, blank=9)
    general = general_path(monkeypatch, ctc, "_fast_ctc", lambda: fl.ctc_loss(lp, tg, il, tl, blank=9))
    assert taken == [True] and fast.tobytes() == general.tobytes()


CTC_REFUSED = {
    "used label out of range": (lambda lp, tg, il, tl: fl.ctc_loss(lp, np.where(np.arange(4) == 0, 10, tg), il, tl),
                                IndexError, "targets: label 10 of sample 0 at position 0"),
    "negative used label": (lambda lp, tg, il, tl: fl.ctc_loss(lp, np.where(np.arange(4) == 1, -1, tg), il,
                                                               np.maximum(tl, 2)),
                            IndexError, "targets: label -1 of sample 0 at position 1"),
    "input length above T": (lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il + 1, tl), ValueError,
                             "input_lengths must be at most T=12"),
    "negative input length": (lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il - 13, tl), ValueError,
                              "input_lengths must be non-negative"),
    "target length above S": (lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il, tl + 4), ValueError,
                              r"target_lengths must be at most targets.shape\[1\]=4"),
    "negative target length": (lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il, tl - 5), ValueError,
                               "target_lengths must be non-negative"),
    "blank out of range": (lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il, tl, blank=10), ValueError, "blank=10"),
    "lengths of another batch": (lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il[:-1], tl), ValueError,
                                 "input_lengths must be of size batch_size"),
    "targets of another batch": (lambda lp, tg, il, tl: fl.ctc_loss(lp, tg[:-1], il, tl), ValueError,
                                 r"targets.shape\[0\]=7"),
    "bad reduction": (lambda lp, tg, il, tl: fl.ctc_loss(lp, tg, il, tl, reduction="avg"), ValueError,
                      "reduction"),
    "integer log_probs": (lambda lp, tg, il, tl: fl.ctc_loss(np.zeros(lp.shape, np.int64), tg, il, tl), TypeError,
                          "log_probs"),
}


@pytest.mark.parametrize("case", list(CTC_REFUSED))
def test_ctc_refusals_are_the_general_paths(monkeypatch, case):
    lp, tg, il, tl = _bench_ctc()
    call, error, words = CTC_REFUSED[case]
    taken = spy_fast_path(monkeypatch, ctc, "_fast_ctc")
    with pytest.raises(error, match=words):
        call(lp, tg, il, tl)
    assert not any(taken)
    with pytest.raises(error, match=words):
        general_path(monkeypatch, ctc, "_fast_ctc", lambda: call(lp, tg, il, tl))


ROWS_UNCOMMON = {
    "none": lambda x, y, m: fl.multilabel_margin_loss(x, m, reduction="none"),
    "grad_output": lambda x, y, m: fl.value_and_grad(fl.multi_margin_loss, x, y, grad_output=np.float32(2))[0],
    "wrt nothing": lambda x, y, m: fl.value_and_grad(fl.multi_margin_loss, x, y, wrt=())[0],
    "weight": lambda x, y, m: fl.multi_margin_loss(x, y, weight=np.ones(x.shape[1], x.dtype)),
    "float p": lambda x, y, m: fl.multi_margin_loss(x, y, p=2.0),
    "bool p": lambda x, y, m: fl.multi_margin_loss(x, y, p=True),
    "numpy margin": lambda x, y, m: fl.multi_margin_loss(x, y, margin=np.float32(0.5)),
    "int32 target": lambda x, y, m: fl.multi_margin_loss(x, y.astype(np.int32)),
    "strided target": lambda x, y, m: fl.multilabel_margin_loss(x, np.repeat(m, 2, axis=1)[:, ::2]),
    "Fortran input": lambda x, y, m: fl.multilabel_margin_loss(np.asfortranarray(x), m),
    "broadcast input": lambda x, y, m: fl.multi_margin_loss(np.broadcast_to(x[:1], x.shape), y),
    "byte-swapped input": lambda x, y, m: fl.multi_margin_loss(x.astype(x.dtype.newbyteorder()), y),
    "float16": lambda x, y, m: fl.multilabel_margin_loss(x.astype(np.float16), m),
    "unbatched": lambda x, y, m: fl.multi_margin_loss(x[0], y[:1]),
    "list target": lambda x, y, m: fl.multi_margin_loss(x, y.tolist()),
}


@pytest.mark.parametrize("case", list(ROWS_UNCOMMON))
def test_rows_uncommon_calls_take_the_general_path(monkeypatch, case):
    x, y, m = _rows_inputs(np.float32, 8, 10)
    taken = spy_fast_path(monkeypatch, margin, "_fast_rows")
    result = ROWS_UNCOMMON[case](x, y, m)
    assert np.all(np.isfinite(result))
    assert not any(taken)


ROWS_REFUSED = {
    "multi label out of range": (lambda x, y, m: fl.multi_margin_loss(x, np.where(np.arange(8) == 2, 10, y)),
                                 IndexError, r"target\[2\] = 10"),
    "multi negative label": (lambda x, y, m: fl.multi_margin_loss(x, np.where(np.arange(8) == 0, -1, y)),
                             IndexError, r"target\[0\] = -1"),
    "multilabel below -1": (lambda x, y, m: fl.multilabel_margin_loss(x, np.where(m == -1, -2, m)), IndexError,
                            "= -2"),
    "multilabel out of range": (lambda x, y, m: fl.multilabel_margin_loss(x, m + 20), IndexError, "target"),
    "p = 3": (lambda x, y, m: fl.multi_margin_loss(x, y, p=3), ValueError, "p == 1 and p == 2"),
    "batch mismatch": (lambda x, y, m: fl.multi_margin_loss(x, y[:-1]), ValueError, "batch size 8"),
    "multilabel shape": (lambda x, y, m: fl.multilabel_margin_loss(x, m[:, :-1]), ValueError, "target.shape"),
    "bad reduction": (lambda x, y, m: fl.multilabel_margin_loss(x, m, reduction="avg"), ValueError, "reduction"),
    "integer input": (lambda x, y, m: fl.multi_margin_loss(y[:, None] * np.ones((1, 10), np.int64), y), TypeError,
                      "input"),
}


@pytest.mark.parametrize("case", list(ROWS_REFUSED))
def test_rows_refusals_are_the_general_paths(monkeypatch, case):
    x, y, m = _rows_inputs(np.float32, 8, 10)
    call, error, words = ROWS_REFUSED[case]
    taken = spy_fast_path(monkeypatch, margin, "_fast_rows")
    with pytest.raises(error, match=words):
        call(x, y, m)
    assert not any(taken)
    with pytest.raises(error, match=words):
        general_path(monkeypatch, margin, "_fast_rows", lambda: call(x, y, m))


def test_fast_entries_stay_off_while_the_gpu_kernels_are_emulated(monkeypatch):
    monkeypatch.setenv("FASTLOSS_GPU", "emulate")
    x, y, m = _rows_inputs(np.float32, 8, 10)
    assert margin._fast_rows(True, x, y, "mean", None) is None
    lp, tg, il, tl = _bench_ctc()
    assert ctc._fast_ctc(lp, tg, il, tl, 0, "mean", False, None) is None
