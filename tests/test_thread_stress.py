"""Thread safety tested like correctness: many randomised calls, each compared bit for bit with
the one-thread result, under thread counts above and below the batch size.

The CTC kernel splits a sample between two threads when the batch is smaller than the team
(alpha over the first half, beta over the second); a struct shared by the threads there once
gave wrong gradient rows in a few calls out of a hundred. A single call per thread count does not
catch such a race: these tests make thousands.
"""
import numpy as np
import pytest

import fastloss as fl
from fastloss._losses import _common

# how many ctc calls the stress test makes in all (one-thread references included)
CTC_CALLS = 10_000


@pytest.fixture
def every_call_parallel(monkeypatch):
    """Small calls run on one thread (waking the team costs more); these tests want the team."""
    before = fl.get_num_threads()
    monkeypatch.setattr(_common, "PARALLEL_MIN_WORK", 0)
    yield
    fl.set_num_threads(before)


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _ctc_case(rng):
    """A batch of 1-6 samples of unequal lengths: random or peaked emissions, some empty or
    infeasible targets, repeated labels, a blank other than 0, float32 or float64."""
    N = int(rng.integers(1, 7))
    C = int(rng.integers(3, 30))
    T = int(rng.integers(64, 260))
    scale = float(rng.choice([1.0, 3.0, 8.0]))
    dtype = np.float32 if rng.random() < 0.6 else np.float64
    lp = _log_softmax(rng.standard_normal((T, N, C)) * scale).astype(dtype)
    blank = int(rng.integers(0, C)) if rng.random() < 0.2 else 0
    S = int(rng.integers(1, 40))
    # mostly long enough to be split between two threads (64 steps), a few short or empty
    il = np.where(rng.random(N) < 0.85, rng.integers(64, T + 1, size=N), rng.integers(0, 64, size=N))
    il[0] = T
    tl = rng.integers(0, S + 1, size=N)
    labels = rng.integers(0, C - 1, size=(N, S))
    labels = labels + (labels >= blank)              # never the blank
    if rng.random() < 0.3:
        labels[:, 1::2] = labels[:, 0::2][:, : labels[:, 1::2].shape[1]]   # repeats: need a blank between
    return lp, labels, il, tl, blank


def _same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def test_ctc_bit_identical_to_one_thread_under_many_thread_counts(every_call_parallel):
    """>= 10,000 randomised ctc calls (forward and value_and_grad), batches smaller and larger than
    the team, each loss and gradient equal bit for bit to the one-thread result."""
    rng = np.random.default_rng(20261128)
    calls = mismatches = 0
    first_failure = None
    while calls < CTC_CALLS:
        lp, labels, il, tl, blank = _ctc_case(rng)
        N = lp.shape[1]
        kwargs = dict(blank=blank, reduction="none", zero_infinity=bool(rng.random() < 0.5))
        fl.set_num_threads(1)
        loss1 = fl.ctc_loss(lp, labels, il, tl, **kwargs)
        vloss1, grads1 = fl.value_and_grad(fl.ctc_loss, lp, labels, il, tl, **kwargs)
        calls += 2
        # below the batch size (whole samples per thread) and above it (samples split in two)
        for threads in sorted({2, max(2, N - 1), N + 1, N + 2, 2 * N + 2}):
            fl.set_num_threads(threads)
            for _ in range(2):
                loss = fl.ctc_loss(lp, labels, il, tl, **kwargs)
                vloss, grads = fl.value_and_grad(fl.ctc_loss, lp, labels, il, tl, **kwargs)
                calls += 2
                ok = _same(loss, loss1) and _same(vloss, vloss1) and _same(grads["log_probs"], grads1["log_probs"])
                if not ok:
                    mismatches += 1
                    if first_failure is None:
                        first_failure = (N, threads, lp.dtype, il.tolist(), tl.tolist(), blank)
    assert mismatches == 0, \
        f"{mismatches} calls differ from one thread; first: N, threads, dtype, il, tl, blank = {first_failure}"

