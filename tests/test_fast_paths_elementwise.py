"""The elementwise losses' compiled common case (``_losses.elementwise._common_case``, the kernel
module's ``common_case``) gives the general path's results bit for bit, matches the formulas, is taken
exactly in the common case, and leaves every other call, every refusal included, to the general path
(same result, same error, same message)."""
import math
import warnings

import numpy as np
import pytest
from fast_path_helpers import general_path, spy_fast_path

import fastloss as fl
from fastloss._losses import elementwise

DTYPES = (np.float32, np.float64)
# 1 element, the benchmarks' tiny size, and one above PARALLEL_MIN_WORK (a team of threads)
SHAPES = [(1,), (8, 10), (256, 200)]
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _arrays(name, shape, dtype, seed=0):
    """Well-formed operands of loss ``name`` (positional arguments)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    y = rng.standard_normal(shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    u = rng.uniform(0.02, 0.98, shape)
    if name in ("soft_margin_loss", "hinge_embedding_loss"):
        args = (x, sign)
    elif name == "margin_ranking_loss":
        args = (x, y, sign)
    elif name == "binary_cross_entropy":
        args = (u, rng.random(shape))
    elif name == "binary_cross_entropy_with_logits":
        args = (x, rng.random(shape))
    elif name == "kl_div":
        args = (np.log(u), np.where(rng.random(shape) < 0.1, 0.0, rng.random(shape)))  # some y = 0
    elif name == "poisson_nll_loss":
        args = (x, rng.uniform(0, 5, shape))
    elif name == "gaussian_nll_loss":
        args = (x, y, rng.uniform(0.1, 2, shape))
    else:
        args = (x, y)
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in args)


# name -> (loss, keyword arguments, the gradients value_and_grad returns by default)
CALLS = {
    "mse": ("mse_loss", {}, ("input", "target")),
    "l1": ("l1_loss", {}, ("input", "target")),
    "smooth_l1": ("smooth_l1_loss", {}, ("input", "target")),
    "smooth_l1-beta": ("smooth_l1_loss", {"beta": 0.3}, ("input", "target")),
    "huber": ("huber_loss", {"delta": 0.7}, ("input", "target")),
    "soft_margin": ("soft_margin_loss", {}, ("input",)),
    "hinge_embedding": ("hinge_embedding_loss", {"margin": 0.5}, ("input",)),
    "margin_ranking": ("margin_ranking_loss", {}, ("input1", "input2", "target")),
    "margin_ranking-float": ("margin_ranking_loss", {"margin": 0.25}, ("input1", "input2", "target")),
    "bce": ("binary_cross_entropy", {}, ("input", "target")),
    "bce_logits": ("binary_cross_entropy_with_logits", {}, ("input", "target")),
    "kl_div-batchmean": ("kl_div", {"reduction": "batchmean"}, ("input", "target")),
    "kl_div-log_target": ("kl_div", {"log_target": True}, ("input", "target")),
    "poisson_log": ("poisson_nll_loss", {}, ("input", "target")),
    "poisson_log_full": ("poisson_nll_loss", {"full": True}, ("input", "target")),
    "poisson": ("poisson_nll_loss", {"log_input": False, "eps": 0.5}, ("input", "target")),
    "poisson_full": ("poisson_nll_loss", {"log_input": False, "full": True, "eps": 0.5}, ("input", "target")),
    "gaussian_nll": ("gaussian_nll_loss", {}, ("input", "target", "var")),
    "gaussian_nll-full": ("gaussian_nll_loss", {"full": True, "eps": 0.2}, ("input", "target", "var")),
}


def _operands(case, shape, dtype):
    name, kwargs, _ = CALLS[case]
    args = _arrays(name, shape, dtype)
    if case.startswith("poisson") and kwargs.get("log_input") is False:
        args = (np.abs(args[0]),) + args[1:]  # a rate
    return args


def _spy(monkeypatch):
    return spy_fast_path(monkeypatch, elementwise, "_common_case")


def _general(monkeypatch, thunk):
    """``thunk()`` with the common case switched off: the general path alone."""
    return general_path(monkeypatch, elementwise, "_common_case", thunk)


def _reductions(case):
    kwargs = CALLS[case][1]
    return [kwargs["reduction"]] if "reduction" in kwargs else ["mean", "sum"] if not case.startswith("kl_div") \
        else ["sum", "batchmean"]


PARAMS = [(case, reduction) for case in CALLS for reduction in _reductions(case)]


@pytest.mark.parametrize("case,reduction", PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_common_case_equals_the_general_path_bit_for_bit(monkeypatch, case, reduction, dtype, shape):
    name, kwargs, grad_names = CALLS[case]
    fn = getattr(fl, name)
    kwargs = dict(kwargs, reduction=reduction)
    args = _operands(case, shape, dtype)
    taken = _spy(monkeypatch)

    fast = fn(*args, **kwargs)
    assert taken == [True]
    general = _general(monkeypatch, lambda: fn(*args, **kwargs))
    assert fast.dtype == general.dtype == dtype and fast.shape == general.shape == ()
    assert fast.tobytes() == general.tobytes()

    loss, grads = fl.value_and_grad(fn, *args, **kwargs)
    assert taken == [True, True]
    loss0, grads0 = _general(monkeypatch, lambda: fl.value_and_grad(fn, *args, **kwargs))
    assert loss.tobytes() == loss0.tobytes() == fast.tobytes()
    assert tuple(grads) == tuple(grads0) == grad_names
    for n in grad_names:
        assert grads[n].dtype == dtype and grads[n].shape == shape and grads[n].flags.c_contiguous
        assert grads[n].tobytes() == grads0[n].tobytes()


@pytest.mark.parametrize("wrt", ["target", ("input",), ("target", "input")])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_wrt_chooses_the_gradients_as_the_general_path(monkeypatch, wrt, dtype):
    x, y = _arrays("mse_loss", (8, 10), dtype)
    taken = _spy(monkeypatch)
    loss, grads = fl.value_and_grad(fl.mse_loss, x, y, wrt=wrt)
    loss0, grads0 = _general(monkeypatch, lambda: fl.value_and_grad(fl.mse_loss, x, y, wrt=wrt))
    assert taken == [True]
    assert sorted(grads) == sorted(grads0) == sorted([wrt] if isinstance(wrt, str) else wrt)
    assert loss.tobytes() == loss0.tobytes()
    for n in grads:
        assert grads[n].tobytes() == grads0[n].tobytes()


def test_thread_count_does_not_change_the_result():
    x, y = _arrays("huber_loss", (256, 200), np.float32)
    before = fl.get_num_threads()
    try:
        fl.set_num_threads(1)
        one = fl.value_and_grad(fl.huber_loss, x, y)
        fl.set_num_threads(2)
        two = fl.value_and_grad(fl.huber_loss, x, y)
    finally:
        fl.set_num_threads(before)
    assert one[0].tobytes() == two[0].tobytes() and one[1]["input"].tobytes() == two[1]["input"].tobytes()


# Independent per-element formulas in float64: (loss, d loss / d first operand)
def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _reference(case, args):
    a = [np.asarray(v, dtype=np.float64) for v in args]
    kwargs = CALLS[case][1]
    if case == "mse":
        d = a[0] - a[1]
        return d * d, 2 * d
    if case == "l1":
        d = a[0] - a[1]
        return np.abs(d), np.sign(d)
    if case.startswith("smooth_l1"):
        beta, d = kwargs.get("beta", 1.0), a[0] - a[1]
        small = np.abs(d) < beta
        return np.where(small, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta), np.where(small, d / beta, np.sign(d))
    if case == "huber":
        delta, d = kwargs["delta"], a[0] - a[1]
        small = np.abs(d) < delta
        return np.where(small, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta)), np.where(small, d, delta * np.sign(d))
    if case == "soft_margin":
        x, y = a
        return _softplus(-y * x), -y / (1 + np.exp(y * x))
    if case == "hinge_embedding":
        (x, y), m = a, kwargs["margin"]
        return np.where(y == 1, x, np.maximum(m - x, 0)), np.where(y == 1, 1.0, -(m - x >= 0).astype(float))
    if case.startswith("margin_ranking"):
        (x1, x2, y), m = a, kwargs.get("margin", 0.0)
        v = -y * (x1 - x2) + m
        return np.maximum(v, 0), -y * (v >= 0)
    if case == "bce":
        x, y = a
        return -(y * np.log(x) + (1 - y) * np.log1p(-x)), (x - y) / (x * (1 - x))
    if case == "bce_logits":
        x, y = a
        return _softplus(x) - x * y, 1 / (1 + np.exp(-x)) - y
    if case == "kl_div-batchmean":
        x, y = a
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0) - y * x, -y
    if case == "kl_div-log_target":
        x, y = a
        return np.exp(y) * (y - x), -np.exp(y)
    if case.startswith("poisson"):
        (x, y), eps = a, kwargs.get("eps", 1e-8)
        if kwargs.get("log_input", True):
            loss, grad = np.exp(x) - y * x, np.exp(x) - y
        else:
            loss, grad = x - y * np.log(x + eps), 1 - y / (x + eps)
        if kwargs.get("full"):
            safe = np.where(y > 1, y, 2.0)
            loss = loss + np.where(y > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe), 0)
        return loss, grad
    if case.startswith("gaussian_nll"):
        (x, y, v), eps = a, kwargs.get("eps", 1e-6)
        v = np.maximum(v, eps)
        const = HALF_LOG_2PI if kwargs.get("full") else 0.0
        return 0.5 * (np.log(v) + (x - y) ** 2 / v) + const, (x - y) / v
    raise KeyError(case)


@pytest.mark.parametrize("case,reduction", PARAMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_common_case_matches_the_formula(monkeypatch, case, reduction, dtype):
    name, kwargs, grad_names = CALLS[case]
    shape = (256, 200)
    args = _operands(case, shape, dtype)
    taken = _spy(monkeypatch)
    loss, grads = fl.value_and_grad(getattr(fl, name), *args, **dict(kwargs, reduction=reduction))
    assert taken == [True]
    per_element, d_first = _reference(case, args)
    scale = {"sum": 1.0, "mean": 1.0 / per_element.size, "batchmean": 1.0 / shape[0]}[reduction]
    tight = dtype == np.float64
    np.testing.assert_allclose(float(loss), per_element.sum() * scale, rtol=1e-12 if tight else 2e-5)
    np.testing.assert_allclose(grads[grad_names[0]], d_first * scale, rtol=1e-10 if tight else 2e-5,
                               atol=1e-15 if tight else 1e-6 * scale)


def test_kl_div_mean_warns_then_takes_the_common_case(monkeypatch):
    x, y = _arrays("kl_div", (8, 10), np.float32)
    taken = _spy(monkeypatch)
    with pytest.warns(UserWarning, match="batchmean"):
        loss = fl.kl_div(x, y)
    assert taken == [True]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert loss.tobytes() == _general(monkeypatch, lambda: fl.kl_div(x, y)).tobytes()


def _outcome(thunk):
    """What a call gives: its result's bytes (loss and gradients), or its error's type and message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = thunk()
    except Exception as exc:  # noqa: BLE001 - comparing errors is the point
        return type(exc), str(exc)
    if isinstance(result, tuple):
        loss, grads = result
        return loss.dtype, loss.tobytes(), {n: (g.dtype, g.shape, g.tobytes()) for n, g in grads.items()}
    return result.dtype, result.shape, result.tobytes()


F32 = np.float32
UNCOMMON = {
    # calls the common case hands to the general path: (thunk of (x, y, v), the error it raises or None)
    "strided input": (lambda x, y, v: fl.mse_loss(x[:, ::2], y[:, ::2]), None),
    "Fortran-order input": (lambda x, y, v: fl.l1_loss(np.asfortranarray(x), np.asfortranarray(y)), None),
    "broadcast target": (lambda x, y, v: fl.mse_loss(x, y[:1]), None),
    "int target": (lambda x, y, v: fl.mse_loss(x, np.ones(x.shape, np.int64)), None),
    "mixed dtypes": (lambda x, y, v: fl.huber_loss(x, y.astype(np.float64)), None),
    "float16": (lambda x, y, v: fl.smooth_l1_loss(x.astype(np.float16), y.astype(np.float16)), None),
    "byte-swapped": (lambda x, y, v: fl.mse_loss(x.astype(x.dtype.newbyteorder()), y), None),
    "list target": (lambda x, y, v: fl.l1_loss(x, y.tolist()), None),
    "0-d target": (lambda x, y, v: fl.mse_loss(x, np.asarray(0.5, x.dtype)), None),
    "subclass": (lambda x, y, v: fl.mse_loss(np.ma.masked_array(x), y), None),
    "reduction none": (lambda x, y, v: fl.soft_margin_loss(x, np.sign(y), reduction="none"), None),
    "legacy size_average": (lambda x, y, v: fl.mse_loss(x, y, size_average=False), None),
    "weight": (lambda x, y, v: fl.mse_loss(x, y, weight=np.abs(v)), None),
    "bce weight": (lambda x, y, v: fl.binary_cross_entropy(v / 3, v / 3, weight=v), None),
    "pos_weight": (lambda x, y, v: fl.binary_cross_entropy_with_logits(x, v / 3, pos_weight=v[0]), None),
    "beta 0": (lambda x, y, v: fl.smooth_l1_loss(x, y, beta=0.0), None),
    "int beta": (lambda x, y, v: fl.smooth_l1_loss(x, y, beta=2), None),
    "var float": (lambda x, y, v: fl.gaussian_nll_loss(x, y, 0.5), None),
    "var without last dim": (lambda x, y, v: fl.gaussian_nll_loss(x, y, v[:, 0]), None),
    "numpy bool full": (lambda x, y, v: fl.poisson_nll_loss(x, v, full=np.bool_(True)), None),
    "empty": (lambda x, y, v: fl.mse_loss(x[:0], y[:0]), None),
    "empty sum": (lambda x, y, v: fl.l1_loss(x[:0], y[:0], reduction="sum"), None),
    "grad_output": (lambda x, y, v: fl.value_and_grad(fl.mse_loss, x, y, grad_output=np.float32(2)), None),
    "bce input out of range": (lambda x, y, v: fl.binary_cross_entropy(x, v / 3), ValueError),
    "bce target out of range": (lambda x, y, v: fl.binary_cross_entropy(v / 3, v), ValueError),
    "bce NaN input": (lambda x, y, v: fl.binary_cross_entropy(np.where(v > 1, np.nan, v / 3).astype(v.dtype), v / 3),
                      ValueError),
    "bce grad out of range": (lambda x, y, v: fl.value_and_grad(fl.binary_cross_entropy, v / 3, v), ValueError),
    "negative var": (lambda x, y, v: fl.gaussian_nll_loss(x, y, -v), ValueError),
    "batchmean for mse": (lambda x, y, v: fl.mse_loss(x, y, reduction="batchmean"), ValueError),
    "unknown reduction": (lambda x, y, v: fl.l1_loss(x, y, reduction="avg"), ValueError),
    "reduction not a str": (lambda x, y, v: fl.l1_loss(x, y, reduction=None), ValueError),
    "shape mismatch": (lambda x, y, v: fl.binary_cross_entropy(v / 3, v[:1] / 3), ValueError),
    "negative delta": (lambda x, y, v: fl.huber_loss(x, y, delta=-1.0), ValueError),
    "margin too large": (lambda x, y, v: fl.margin_ranking_loss(x, y, np.sign(v), margin=10 ** 400), ValueError),
    "bool margin": (lambda x, y, v: fl.hinge_embedding_loss(x, np.sign(y), margin=True), TypeError),
    "str eps": (lambda x, y, v: fl.poisson_nll_loss(x, v, eps="1"), TypeError),
    "int input for kl_div": (lambda x, y, v: fl.kl_div(np.ones(x.shape, np.int64), v), TypeError),
    "ndim mismatch": (lambda x, y, v: fl.margin_ranking_loss(x, y[0], np.sign(v)), ValueError),
}


@pytest.mark.parametrize("case", list(UNCOMMON))
def test_uncommon_calls_take_the_general_path(monkeypatch, case):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 8, 10)).astype(F32)
    v = rng.uniform(0.5, 2.5, (8, 10)).astype(F32)  # > 1 somewhere: out of bce's range
    call, error = UNCOMMON[case]
    taken = _spy(monkeypatch)
    result = _outcome(lambda: call(x, y, v))
    assert not any(taken)
    assert result == _outcome(lambda: _general(monkeypatch, lambda: call(x, y, v)))
    if error is None:
        assert not isinstance(result[0], type) or not issubclass(result[0], Exception)
    else:
        assert result[0] is error


def test_the_common_case_keeps_out_of_gpu_emulation(monkeypatch):
    # FASTLOSS_GPU=emulate sends NumPy arrays to the GPU kernels: the common case must step aside
    monkeypatch.setenv("FASTLOSS_GPU", "emulate")
    assert elementwise._common_case("mse", "mean", None, ("input", "target"), np.ones(3), np.ones(3)) is None


def test_the_compiled_entry_refuses_what_it_does_not_know():
    # the kernel module's entry, called directly: anything but the common case is None
    from fastloss import _backend

    entry = _backend.kernels("elementwise").common_case
    x = np.linspace(0.1, 0.9, 12)
    assert entry(None, "mse_w", "mean", None, ("input", "target"), x, x) is None  # a variant with an optional operand
    assert entry(None, "mse", "mean", None, ("input", "target"), x, x[::-1]) is None  # not C-contiguous
    assert entry(None, "mse", "mean", None, ("input", "target"), x[:6], x[::2]) is None
    assert entry(None, "mse", "mean", None, ("input", "target"), x, x.reshape(3, 4)) is None  # another shape
    unaligned = np.frombuffer(bytearray(12 * 8 + 1), dtype=np.float64, offset=1)
    assert not unaligned.flags.aligned
    assert entry(None, "mse", "mean", None, ("input", "target"), unaligned, unaligned) is None
    assert entry(None, "smooth_l1", "mean", None, ("input", "target"), x, x, None, "1.0") is None
    assert float(entry(None, "mse", "sum", None, ("input", "target"), x, np.zeros(12))) == pytest.approx((x * x).sum())
