"""torch's input rules, checked against torch itself (issue 8): "where torch accepts an input,
fastloss does too", with torch's result dtype and value; torch's answers on edge inputs (empty
broadcasts, non-finite class weights, label smoothing outside (0, 1], legacy kl_div arguments,
eps=nan, infinite differences); and the argument errors torch raises or would raise."""
import itertools
import warnings

import numpy as np
import pytest

import fastloss as fl


def _torch():  # imported inside the torch-marked tests only (they skip without torch)
    import torch

    return torch


def _F():
    import torch.nn.functional as F

    return F


def _cases():
    """(id, loss, {argument: float64 array}, kwargs): one call per loss and optional operand."""
    r = np.random.default_rng(0)
    x, y = r.random((4, 3)), r.random((4, 3))
    lbl = np.array([0, 2, 1, 1])
    sign = np.sign(y - 0.5)
    yield "l1", "l1_loss", dict(input=x, target=y), {}
    yield "l1_w", "l1_loss", dict(input=x, target=y, weight=y), {}
    yield "mse", "mse_loss", dict(input=x, target=y), {}
    yield "mse_w", "mse_loss", dict(input=x, target=y, weight=y), {}
    yield "smooth_l1", "smooth_l1_loss", dict(input=x, target=y), {}
    yield "huber", "huber_loss", dict(input=x, target=y), {}
    yield "huber_w", "huber_loss", dict(input=x, target=y, weight=y), {}
    yield "soft_margin", "soft_margin_loss", dict(input=x, target=sign), {}
    yield "hinge", "hinge_embedding_loss", dict(input=x, target=sign), {}
    yield "margin_ranking", "margin_ranking_loss", dict(input1=x[:, 0], input2=x[:, 1], target=sign[:, 0]), {}
    yield "bce", "binary_cross_entropy", dict(input=x, target=(y > 0.5) * 1.0), {}
    yield "bce_w", "binary_cross_entropy", dict(input=x, target=(y > 0.5) * 1.0, weight=y), {}
    yield "bce_logits", "binary_cross_entropy_with_logits", dict(input=x, target=(y > 0.5) * 1.0), {}
    yield "bce_logits_w", "binary_cross_entropy_with_logits", dict(input=x, target=(y > 0.5) * 1.0, weight=y,
                                                                     pos_weight=y[0]), {}
    yield "kl_div", "kl_div", dict(input=x, target=y), {"reduction": "batchmean"}
    yield "poisson", "poisson_nll_loss", dict(input=x, target=y * 3), {}
    yield "poisson_full", "poisson_nll_loss", dict(input=x, target=y * 3), {"full": True, "log_input": False}
    yield "gaussian", "gaussian_nll_loss", dict(input=x, target=y, var=y + 1), {}
    yield "nll_w", "nll_loss", dict(input=x, target=lbl, weight=y[0]), {}
    yield "ce_w", "cross_entropy", dict(input=x, target=lbl, weight=y[0]), {}
    yield "ce_prob", "cross_entropy", dict(input=x, target=y), {}
    yield "mlsm_w", "multilabel_soft_margin_loss", dict(input=x, target=(y > 0.5) * 1.0, weight=y[0]), {}
    yield "multi_margin_w", "multi_margin_loss", dict(input=x, target=lbl, weight=y[0]), {}
    yield "cosine", "cosine_embedding_loss", dict(input1=x, input2=y, target=np.array([1, -1, 1, -1])), {}
    yield "triplet", "triplet_margin_loss", dict(anchor=x, positive=y, negative=y[::-1].copy()), {}
    yield "triplet_d", "triplet_margin_with_distance_loss", dict(anchor=x, positive=y, negative=y[::-1].copy()), {}


CASES = list(_cases())
DTYPES = ["float32", "float64", "int64", "bool"]


def _as(a, dtype):
    if dtype == "bool":
        return a > 0.5
    if dtype == "int64":
        return np.round(a * 3).astype(np.int64)
    return a.astype(dtype)


def _torch_call(name, args, kwargs):
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return getattr(_F(), name)(**{k: torch.from_numpy(v) for k, v in args.items()}, **kwargs).numpy()
        except Exception:
            return None


def _fl_call(name, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(fl, name)(**args, **kwargs)


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_operand_dtype_torch_accepts_is_accepted_with_its_dtype_and_value(case):
    """Every combination of float32/float64/int64/bool operands: where torch gives a result,
    fastloss gives one of the same dtype and value (fastloss may accept more: never less)."""
    _, name, args, kwargs = case
    names = [k for k, v in args.items() if v.dtype.kind == "f"]
    checked = 0
    for combo in itertools.product(DTYPES, repeat=len(names)):
        trial = dict(args)
        for k, dt in zip(names, combo):
            trial[k] = _as(args[k], dt)
        expected = _torch_call(name, trial, kwargs)
        if expected is None:
            continue
        got = _fl_call(name, trial, kwargs)
        assert got.dtype == expected.dtype, \
            f"{name}{dict(zip(names, combo))}: dtype {got.dtype}, torch {expected.dtype}"
        # torch may round intermediates to float32 (l1 with a float64 weight: |x - y| of float32
        # operands; triplet: the distance of two integer arrays is float32): fastloss does not
        tol = 1e-12 if set(combo) == {"float64"} else 1e-5
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol, err_msg=f"{name}{dict(zip(names, combo))}")
        checked += 1
    assert checked >= 1


def test_integer_inputs_accepted_and_computed_in_the_floating_dtype():
    # mse_loss(int64 input, float32 target) is float32 in torch: the integers promote
    x = np.array([1, 2, 3])
    y = np.array([0.5, 0.5, 0.5], np.float32)
    out = fl.mse_loss(x, y, reduction="none")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([0.25, 2.25, 6.25], np.float32))
    loss, grads = fl.value_and_grad(fl.mse_loss, x, y, reduction="sum")
    assert set(grads) == {"target"}  # no gradient for an integer array, as torch
    np.testing.assert_array_equal(grads["target"], np.array([-1.0, -3.0, -5.0], np.float32))
    # no floating operand at all: torch's default dtype
    loss = fl.cosine_embedding_loss(np.ones((2, 3), np.int64), np.ones((2, 3), bool), np.array([1, 1]))
    assert loss.dtype == np.float32


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss",
                                  "hinge_embedding_loss", "poisson_nll_loss"])
def test_python_scalar_target_does_not_upcast(name):
    x = np.array([0.25, 1.5, -2.0], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(fl, name)(x, 1.0, reduction="none")
        full = getattr(fl, name)(x, np.ones(3, np.float32), reduction="none")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, full)


def test_zero_dim_operand_does_not_promote_where_torch_keeps_the_dimensioned_dtype():
    x = np.full((2, 3), -0.5, np.float32)
    # kl_div/poisson: a 0-d float64 target leaves a float32 result; mse broadcasts first: float64
    assert fl.kl_div(x, np.float64(0.5), reduction="sum").dtype == np.float32
    assert fl.poisson_nll_loss(x, np.array(2.0)).dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fl.mse_loss(x, np.array(2.0)).dtype == np.float64


@pytest.mark.torch
@pytest.mark.parametrize("name", ["kl_div", "poisson_nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss",
                                  "multilabel_soft_margin_loss"])
def test_zero_dim_target_dtype_matches_torch(name):
    torch = _torch()
    x = np.full((2, 3), 0.5, np.float32)
    z = np.array(0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(_F(), name)(torch.from_numpy(x), torch.from_numpy(z))
        got = getattr(fl, name)(x, z)
    assert got.dtype == np.dtype(str(expected.dtype).replace("torch.", ""))
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-6)


# -- empty broadcasts -----------------------------------------------------------------------------

ELEMENTWISE = [("l1_loss", {}), ("mse_loss", {}), ("smooth_l1_loss", {}), ("huber_loss", {}),
               ("soft_margin_loss", {}), ("hinge_embedding_loss", {}), ("kl_div", {}), ("poisson_nll_loss", {}),
               ("gaussian_nll_loss", {"var": 1.0})]


@pytest.mark.torch
@pytest.mark.parametrize("name,kwargs", ELEMENTWISE, ids=[n for n, _ in ELEMENTWISE])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_empty_broadcast_gives_torchs_result(name, kwargs, reduction):
    torch = _torch()
    x, y = np.zeros((2, 0, 3)), np.full((2, 1, 3), 0.5)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = torch.from_numpy(y).requires_grad_(name not in ("soft_margin_loss", "hinge_embedding_loss"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        targs = (tx, ty, kwargs["var"]) if name == "gaussian_nll_loss" else (tx, ty)
        expected = getattr(_F(), name)(*targs, reduction=reduction)
        loss, grads = fl.value_and_grad(name, x, y, reduction=reduction, **kwargs)
    assert loss.shape == tuple(expected.shape)
    np.testing.assert_array_equal(loss, expected.detach().numpy())  # nan for 'mean', 0 for 'sum'
    wanted = [t for t in (tx, ty) if t.requires_grad]
    theirs = torch.autograd.grad(expected.sum(), wanted, allow_unused=True)
    for key, t, g in zip(("input", "target"), wanted, theirs):
        assert grads[key].shape == tuple(t.shape)
        np.testing.assert_array_equal(grads[key], np.zeros(t.shape) if g is None else g.numpy())


def test_empty_broadcast_of_every_elementwise_loss_is_no_error():
    x, y = np.zeros((2, 0, 3), np.float32), np.zeros((2, 1, 3), np.float32)
    for name, kwargs in ELEMENTWISE + [("binary_cross_entropy", {}), ("binary_cross_entropy_with_logits", {})]:
        yy = np.zeros((2, 0, 3), np.float32) if name.startswith("binary") else y
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.isnan(getattr(fl, name)(x, yy, **kwargs)), name
            assert getattr(fl, name)(x, yy, reduction="sum", **kwargs) == 0, name
            assert getattr(fl, name)(x, yy, reduction="none", **kwargs).shape == (2, 0, 3), name


# -- cross_entropy: class weights and label smoothing ------------------------------------------------

def _ce_both(x, target, weight, ls, reduction):
    torch = _torch()
    tx = torch.from_numpy(x).requires_grad_(True)
    t = torch.from_numpy(target)
    out = _F().cross_entropy(tx, t, weight=torch.from_numpy(weight), label_smoothing=ls, reduction=reduction)
    (g,) = torch.autograd.grad(out.sum(), tx)
    loss, grads = fl.value_and_grad(fl.cross_entropy, x, target, weight=weight, label_smoothing=ls,
                                    reduction=reduction)
    return (out.detach().numpy(), g.numpy()), (loss, grads["input"])


@pytest.mark.torch
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5)], ids=["rows", "spatial"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nonfinite_weight_of_an_untargeted_class_is_ignored_without_smoothing(bad, shape, reduction):
    r = np.random.default_rng(1)
    x = r.standard_normal(shape)
    target = r.integers(0, 2, (shape[0],) + shape[2:])  # class 2 is never a target
    weight = np.array([1.0, 2.0, bad])
    (tv, tg), (v, g) = _ce_both(x, target, weight, 0.0, reduction)
    assert np.all(np.isfinite(tv)) and np.all(np.isfinite(tg))
    np.testing.assert_allclose(v, tv, rtol=1e-12)
    np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-15)


@pytest.mark.torch
@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_nan_weight_with_smoothing_or_of_a_target_class_is_nan_where_torch_is(ls, reduction):
    r = np.random.default_rng(2)
    x = r.standard_normal((4, 3))
    target = np.array([0, 1, 2, 1])  # class 2 is the target of sample 2
    (tv, tg), (v, g) = _ce_both(x, target, np.array([1.0, 2.0, np.nan]), ls, reduction)
    np.testing.assert_array_equal(np.isnan(v), np.isnan(tv))
    np.testing.assert_array_equal(np.isnan(g), np.isnan(tg))
    np.testing.assert_allclose(v, tv, rtol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("ls", [-0.5, -1e-12, np.nan, -np.inf, 0.0])
@pytest.mark.parametrize("probabilities", [False, True])
def test_negative_or_nan_label_smoothing_means_none_as_in_torch(ls, probabilities):
    torch = _torch()
    r = np.random.default_rng(3)
    x = r.standard_normal((5, 4))
    target = r.dirichlet(np.ones(4), 5) if probabilities else r.integers(0, 4, 5)
    tx = torch.from_numpy(x).requires_grad_(True)
    out = _F().cross_entropy(tx, torch.from_numpy(target), label_smoothing=ls)
    (tg,) = torch.autograd.grad(out, tx)
    loss, grads = fl.value_and_grad(fl.cross_entropy, x, target, label_smoothing=ls)
    np.testing.assert_allclose(loss, out.item(), rtol=1e-13)
    np.testing.assert_allclose(grads["input"], tg.numpy(), rtol=1e-12, atol=1e-15)
    assert float(loss) == float(fl.cross_entropy(x, target))


def test_label_smoothing_above_one_refused():
    with pytest.raises(ValueError, match="label_smoothing"):
        fl.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=1.5)


# -- binary_cross_entropy targets ----------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("bad", [-0.25, 1.25, np.nan, np.inf])
def test_bce_target_outside_unit_interval_refused_as_torch(bad):
    torch = _torch()
    x, y = np.array([0.3, 0.6]), np.array([bad, 1.0])
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        _F().binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(y))
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of target should be between 0 and 1"):
        fl.binary_cross_entropy(x, y)
    with pytest.raises(ValueError, match="target"):
        fl.value_and_grad(fl.binary_cross_entropy, x, y, weight=np.ones(2), reduction="none")


# -- other torch rules ---------------------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
def test_kl_div_legacy_arguments_and_batchmean_as_torch(size_average, reduce, reduction):
    torch = _torch()
    r = np.random.default_rng(4)
    x = np.log(r.dirichlet(np.ones(3), 4))
    y = r.dirichlet(np.ones(3), 4)
    tx, ty = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(y).requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _F().kl_div(tx, ty, size_average=size_average, reduce=reduce, reduction=reduction)
        loss, grads = fl.value_and_grad(fl.kl_div, x, y, size_average=size_average, reduce=reduce, reduction=reduction)
    gx, gy = torch.autograd.grad(out.sum(), [tx, ty])
    np.testing.assert_allclose(loss, out.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(grads["input"], gx.numpy(), rtol=1e-13)
    np.testing.assert_allclose(grads["target"], gy.numpy(), rtol=1e-13)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gaussian_nll_eps_nan_gives_nan_as_torch(reduction):
    torch = _torch()
    x, y, var = np.array([0.5, -1.0, 2.0]), np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.5, 2.0])
    tx = torch.from_numpy(x).requires_grad_(True)
    out = _F().gaussian_nll_loss(tx, torch.from_numpy(y), torch.from_numpy(var), eps=float("nan"), reduction=reduction)
    (tg,) = torch.autograd.grad(out.sum(), tx)
    loss, grads = fl.value_and_grad(fl.gaussian_nll_loss, x, y, var, eps=float("nan"), reduction=reduction)
    assert np.isnan(out.detach().numpy()).all() and np.isnan(tg.numpy()).all()
    assert np.isnan(loss).all() and np.isnan(grads["input"]).all() and np.isnan(grads["var"]).all()
    with pytest.raises(ValueError, match="var has negative"):
        fl.gaussian_nll_loss(x, y, -var, eps=float("nan"))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs", [("smooth_l1_loss", {"beta": 1.0}), ("smooth_l1_loss", {"beta": 0.0}),
                                         ("huber_loss", {"delta": 2.0}), ("huber_loss", {"delta": 0.5})])
def test_infinite_differences_have_torchs_gradient(name, kwargs, dtype):
    torch = _torch()
    inf, nan = np.inf, np.nan
    x = np.array([inf, -inf, 1.0, 1.0, inf, nan, 0.0, 3.0, -3.0, 0.25], dtype)
    y = np.array([0.0, 0.0, inf, -inf, inf, 0.0, 0.0, 0.0, 0.0, 0.0], dtype)
    tx, ty = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(y).requires_grad_(True)
    out = getattr(_F(), name)(tx, ty, reduction="none", **kwargs)
    gx, gy = torch.autograd.grad(out.sum(), [tx, ty])
    loss, grads = fl.value_and_grad(name, x, y, reduction="none", **kwargs)
    np.testing.assert_array_equal(loss, out.detach().numpy())
    np.testing.assert_array_equal(grads["input"], gx.numpy())   # +-1 (smooth_l1) or +-delta (huber) at inf
    np.testing.assert_array_equal(grads["target"], gy.numpy())


@pytest.mark.torch
@pytest.mark.parametrize("lengths", ["(1, N)", "(N, 1)", "(N,)"])
def test_ctc_lengths_of_any_shape_with_batch_entries(lengths):
    torch = _torch()
    r = np.random.default_rng(5)
    lp = np.log(r.dirichlet(np.ones(4), (6, 2)))
    targets = np.array([[1, 2], [3, 3]])
    il, tl = np.array([6, 5]), np.array([2, 1])
    shape = {"(1, N)": (1, 2), "(N, 1)": (2, 1), "(N,)": (2,)}[lengths]
    il, tl = il.reshape(shape), tl.reshape(shape)
    expected = _F().ctc_loss(torch.from_numpy(lp), torch.from_numpy(targets), torch.from_numpy(il),
                             torch.from_numpy(tl), reduction="none")
    np.testing.assert_allclose(fl.ctc_loss(lp, targets, il, tl, reduction="none"), expected.numpy(), rtol=1e-12)
    # unbatched: (1, 1) lengths
    out = fl.ctc_loss(lp[:, 0], targets[0], il.reshape(-1)[:1].reshape(1, 1), tl.reshape(-1)[:1].reshape(1, 1))
    np.testing.assert_allclose(out, expected.numpy()[0] / 2, rtol=1e-12)


@pytest.mark.torch
def test_ctc_bool_targets_read_as_labels_as_torch():
    torch = _torch()
    lp = np.log(np.random.default_rng(6).dirichlet(np.ones(3), (5, 2)))
    targets = np.array([[True, True], [True, False]])
    il, tl = np.array([5, 5]), np.array([2, 1])
    expected = _F().ctc_loss(torch.from_numpy(lp), torch.from_numpy(targets), torch.from_numpy(il),
                             torch.from_numpy(tl), reduction="none")
    np.testing.assert_allclose(fl.ctc_loss(lp, targets, il, tl, reduction="none"), expected.numpy(), rtol=1e-12)


# -- clean errors ----------------------------------------------------------------------------------

def _every_required_array():
    import inspect

    from fastloss.__main__ import examples
    from fastloss._validation import OPTIONAL_ARRAYS

    for title, name, args, kwargs, _ in examples(np.random.default_rng(0)):
        params = list(inspect.signature(getattr(fl, name)).parameters)
        for i in range(len(args)):
            if params[i] not in OPTIONAL_ARRAYS:
                yield pytest.param(name, args, kwargs, i, params[i], id=f"{title}-{params[i]}")


@pytest.mark.parametrize("name,args,kwargs,i,arg", list(_every_required_array()))
def test_missing_required_array_is_a_type_error_naming_it(name, args, kwargs, i, arg):
    call = list(args)
    call[i] = None
    with pytest.raises(TypeError, match=f"^{arg} is required"):
        getattr(fl, name)(*call, **kwargs)
    call[i] = [[1.0], [1.0, 2.0]]  # ragged
    with pytest.raises(TypeError, match=f"^{arg}: cannot convert list"):
        getattr(fl, name)(*call, **kwargs)


def test_gaussian_nll_var_none_refused():
    with pytest.raises(TypeError, match="var is required"):
        fl.gaussian_nll_loss(np.zeros(3), np.zeros(3), None)


@pytest.mark.parametrize("value", [2 ** 63, -2 ** 63 - 1, 2 ** 64])
def test_int_arguments_beyond_int64_are_value_errors(value):
    x, t = np.zeros((2, 3)), np.array([0, 1])
    for call in (lambda: fl.cross_entropy(x, t, ignore_index=value), lambda: fl.nll_loss(x, t, ignore_index=value),
                 lambda: fl.ctc_loss(np.zeros((4, 1, 3)), np.array([[1]]), [4], [1], blank=value)):
        with pytest.raises(ValueError, match="64-bit integer"):
            call()


def test_ignore_index_at_int64_limits_is_accepted():
    x, t = np.zeros((2, 3)), np.array([0, 1])
    assert np.isclose(fl.cross_entropy(x, t, ignore_index=2 ** 63 - 1), np.log(3))
    assert np.isclose(fl.cross_entropy(x, t, ignore_index=-2 ** 63), np.log(3))


@pytest.mark.parametrize("name,kw", [("hinge_embedding_loss", "margin"), ("smooth_l1_loss", "beta"),
                                     ("huber_loss", "delta"), ("poisson_nll_loss", "eps"),
                                     ("triplet_margin_loss", "p"), ("cross_entropy", "label_smoothing")])
def test_float_arguments_beyond_a_double_are_value_errors(name, kw):
    args = {"triplet_margin_loss": (np.zeros((2, 3)),) * 3,
            "cross_entropy": (np.zeros((2, 3)), np.array([0, 1]))}.get(name, (np.zeros(3), np.ones(3)))
    with pytest.raises(ValueError, match=f"{kw}=.* out of the range of a float"):
        getattr(fl, name)(*args, **{kw: 10 ** 400})


@pytest.mark.torch
def test_tensor_requiring_grad_is_refused_with_the_bridge_to_use():
    torch = _torch()
    x = torch.zeros(3, requires_grad=True)
    y = torch.ones(3)
    with pytest.raises(TypeError, match=r"input is a torch tensor with requires_grad=True.*fastloss\.torch\.mse_loss"
                                        r".*input\.detach\(\)"):
        fl.mse_loss(x, y)
    with pytest.raises(TypeError, match=r"fastloss\.torch\.cross_entropy"):
        fl.value_and_grad(fl.cross_entropy, torch.zeros((2, 3), requires_grad=True), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match=r"fastloss\.torch\.mse_loss"):
        fl.nn.MSELoss()(x, y)
    # detached (or not requiring grad): accepted, no copy
    assert float(fl.mse_loss(x.detach(), y)) == 1.0
