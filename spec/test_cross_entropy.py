"""cross_entropy: nll_loss(log_softmax(input, 1), target) with class-index or probability targets,
weight, ignore_index and label_smoothing (torch's normalisation, see spec/reference/classification.py)."""
import numpy as np
import pytest

import spec.reference.classification as ref
from spec.classification_strategies import cross_entropy_args
from spec.helpers import assert_close
from spec.impl import impl, torch_available
from spec.properties import LossSpec, standard_properties

# A class-major (N, C) input (a Fortran-order or transposed array) is read in place by the
# spatial kernel, whose float64 sums may round differently from the row kernel's by an ulp or two.
SPEC = LossSpec("cross_entropy", reference=ref.cross_entropy, draw_args=cross_entropy_args(),
                differentiable=("input", "target"), layout_rtol=1e-14)
globals().update(standard_properties(SPEC))

X = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 0.0, 0.0], [3.0, -2.0, 1.0, 0.5]])
T = np.array([1, 3, 0])
W = np.array([0.5, 1.0, 2.0, 1.5])


def _logsoftmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def test_value_is_nll_of_log_softmax():
    lp = _logsoftmax(X)
    assert_close(impl.loss("cross_entropy", X, T, reduction="none"), -lp[np.arange(3), T], "ce none")
    assert_close(impl.loss("nll_loss", lp, T), impl.loss("cross_entropy", X, T), "ce = nll(log_softmax)")


def test_gradient_is_softmax_minus_one_hot():
    _, g = impl.value_and_grad("cross_entropy", X, T, reduction="sum")
    p = np.exp(_logsoftmax(X))
    assert_close(g["input"], p - np.eye(4)[T], "softmax - onehot")


@pytest.mark.parametrize("ignore_index", [3, -1, 10])
def test_label_smoothing_with_weight_and_ignore_index(ignore_index):
    """torch: (1 - eps) * nll_mean + eps / C * sum(smooth) / sum(w[t] kept), both over kept targets."""
    eps, C = 0.2, 4
    t = np.array([1, ignore_index, 0]) if ignore_index not in (3,) else np.array([1, 3, 0])
    lp = _logsoftmax(X)
    kept = [0, 2]
    tk = t[kept]
    nll = -(W[tk] * lp[kept, tk])
    smooth = -(lp[kept] * W).sum(axis=1)
    denom = W[tk].sum()
    expected_mean = (1 - eps) * nll.sum() / denom + eps / C * smooth.sum() / denom
    out = impl.loss("cross_entropy", X, t, weight=W, ignore_index=ignore_index, label_smoothing=eps)
    assert_close(out, expected_mean, "smoothing + weight + ignore_index mean")
    none = impl.loss("cross_entropy", X, t, weight=W, ignore_index=ignore_index, label_smoothing=eps, reduction="none")
    assert_close(none[kept], (1 - eps) * nll + eps / C * smooth, "per-sample")
    assert none[1] == 0.0


def test_label_smoothing_without_weight_divides_by_kept_count():
    eps, C = 0.3, 4
    t = np.array([1, -100, 0])
    lp = _logsoftmax(X)
    kept = [0, 2]
    per = (1 - eps) * -lp[kept, t[kept]] + eps / C * -lp[kept].sum(axis=1)
    assert_close(impl.loss("cross_entropy", X, t, label_smoothing=eps), per.sum() / 2, "mean over kept")


def test_all_ignored_mean_is_nan_with_zero_gradient():
    t = np.full(3, -100)
    for kw in ({}, {"label_smoothing": 0.2}, {"weight": W, "label_smoothing": 0.2}):
        loss, g = impl.value_and_grad("cross_entropy", X, t, **kw)
        assert np.isnan(loss)
        assert_close(g["input"], np.zeros_like(X), f"all ignored gradient {kw}")


def test_probability_targets_mean_divides_by_samples_not_weights():
    y = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    lp = _logsoftmax(X)
    per = -(W * y * lp).sum(axis=1)
    assert_close(impl.loss("cross_entropy", X, y, weight=W), per.mean(), "prob target mean / N")
    assert_close(impl.loss("cross_entropy", X, y, weight=W, reduction="sum"), per.sum(), "prob target sum")


def test_probability_targets_get_a_gradient():
    y = np.full((3, 4), 0.25)
    _, g = impl.value_and_grad("cross_entropy", X, y, reduction="sum", label_smoothing=0.1)
    assert_close(g["target"], -0.9 * _logsoftmax(X), "d loss / d target = -(1 - eps) logp")


def test_probability_targets_with_label_smoothing():
    eps = 0.4
    y = np.array([[0.0, 1.0, 0.0, 0.0]] * 3)
    expected = -(((1 - eps) * y + eps / 4) * _logsoftmax(X)).sum(axis=1)
    assert_close(impl.loss("cross_entropy", X, y, label_smoothing=eps, reduction="none"), expected, "smoothed probs")


def test_kdim_input_without_transposing():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3, 4))
    t = rng.integers(0, 5, (2, 3, 4))
    expected = -np.take_along_axis(_logsoftmax(x, axis=1), t[:, None], axis=1)[:, 0]
    assert_close(impl.loss("cross_entropy", x, t, reduction="none"), expected, "K-dim")
    # a spatial extent larger than one kernel block
    x = rng.standard_normal((2, 3, 300))
    t = rng.integers(0, 3, (2, 300))
    expected = -np.take_along_axis(_logsoftmax(x, axis=1), t[:, None], axis=1)[:, 0]
    assert_close(impl.loss("cross_entropy", x, t, reduction="none"), expected, "K-dim, several blocks")


def test_unbatched_input():
    out = impl.loss("cross_entropy", X[0], np.array(1), reduction="none")
    assert out.shape == ()
    assert_close(out, -_logsoftmax(X[0])[1], "unbatched index")
    out = impl.loss("cross_entropy", X[0], np.full(4, 0.25), reduction="none")
    assert out.shape == ()


def test_large_logits_do_not_overflow():
    x = np.array([[1000.0, 0.0, -1000.0]])
    assert_close(impl.loss("cross_entropy", x, np.array([1])), 1000.0, "stable lse")
    assert_close(impl.loss("cross_entropy", x.astype(np.float32), np.array([0])), 0.0, "stable lse f32")


def test_nan_logit_gives_nan_row():
    x = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    out = impl.loss("cross_entropy", x, np.array([0, 0]), reduction="none")
    assert np.isnan(out[0]) and np.isfinite(out[1])


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.uint64])
def test_every_integer_target_dtype(dtype):
    assert_close(impl.loss("cross_entropy", X, T.astype(dtype)), impl.loss("cross_entropy", X, T), f"target {dtype}")


def test_target_out_of_range_raises_index_error():
    with pytest.raises(IndexError, match="4"):
        impl.loss("cross_entropy", X, np.array([0, 4, 1]))


def test_float_index_target_refused():
    with pytest.raises((TypeError, RuntimeError)):
        impl.loss("cross_entropy", X, np.array([0.0, 1.0, 2.0]))


def test_integer_probability_target_refused():
    with pytest.raises((TypeError, RuntimeError)):
        impl.loss("cross_entropy", X, np.ones((3, 4), dtype=np.int64))


def test_probability_target_of_wrong_shape_refused():
    with pytest.raises((ValueError, TypeError, RuntimeError)):
        impl.loss("cross_entropy", X, np.ones((3, 3)))


def test_ignore_index_with_probability_targets_refused():
    with pytest.raises((ValueError, RuntimeError), match="ignore_index"):
        impl.loss("cross_entropy", X, np.full((3, 4), 0.25), ignore_index=1)


@pytest.mark.parametrize("ls", [-0.3, float("nan"), -float("inf")])
def test_negative_or_nan_label_smoothing_means_none(ls):
    # torch smooths only when label_smoothing > 0
    for target in (T, np.full(X.shape, 0.25)):
        loss, g = impl.value_and_grad("cross_entropy", X, target, label_smoothing=ls, reduction="none")
        ref_loss, ref_g = impl.value_and_grad("cross_entropy", X, target, reduction="none")
        assert_close(loss, ref_loss, "no smoothing", rtol=0, atol=0)
        assert_close(g["input"], ref_g["input"], "no smoothing", rtol=0, atol=0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 5)])
def test_nonfinite_weight_of_an_untargeted_class_changes_nothing(bad, shape):
    # without smoothing only the targets' weights enter the loss and its gradient (torch's result)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape)
    t = rng.integers(0, 3, (shape[0],) + shape[2:])  # class 3 is never a target
    w = np.array([1.0, 0.5, 2.0, bad])
    finite = np.array([1.0, 0.5, 2.0, 123.0])
    for reduction in ("none", "mean", "sum"):
        loss, g = impl.value_and_grad("cross_entropy", x, t, weight=w, reduction=reduction)
        ref_loss, ref_g = impl.value_and_grad("cross_entropy", x, t, weight=finite, reduction=reduction)
        assert_close(loss, ref_loss, f"untargeted weight {bad} ({reduction})", rtol=0, atol=0)
        assert_close(g["input"], ref_g["input"], f"untargeted weight {bad} ({reduction})", rtol=0, atol=0)


def test_label_smoothing_above_one_refused():
    with pytest.raises((ValueError, RuntimeError), match="label_smoothing"):
        impl.loss("cross_entropy", X, T, label_smoothing=1.5)


def test_batch_size_mismatch_refused():
    with pytest.raises(ValueError, match="batch_size"):
        impl.loss("cross_entropy", X, np.array([0, 1]))


def test_weight_of_wrong_size_refused():
    with pytest.raises((ValueError, RuntimeError), match="weight"):
        impl.loss("cross_entropy", X, T, weight=np.ones(3))


def test_0d_input_refused():
    # torch reads a 0-d target of a 0-d input as probabilities and refuses its integer dtype
    with pytest.raises((TypeError, RuntimeError)):
        impl.loss("cross_entropy", np.array(1.0), np.array(0))
    with pytest.raises((ValueError, RuntimeError)):
        impl.loss("cross_entropy", np.array(1.0), np.array(0.5))


@pytest.mark.torch
@pytest.mark.skipif(not torch_available(), reason="needs torch")
@pytest.mark.parametrize("shape", [(64, 1000), (3, 50257), (2, 7, 33, 40)])
def test_float32_large_rows_no_less_accurate_than_torch(shape):
    """The vectorised float32 exp on realistic sizes: loss and gradient vs a float64 reference."""
    import torch

    from spec.helpers import assert_no_less_accurate

    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    exact, exact_g = ref.cross_entropy(x.astype(np.float64), t)
    ours, g = impl.value_and_grad("cross_entropy", x, t)
    xt = torch.from_numpy(x).requires_grad_(True)
    theirs = torch.nn.functional.cross_entropy(xt, torch.from_numpy(t))
    (tg,) = torch.autograd.grad(theirs, [xt])
    assert_no_less_accurate(ours, theirs.detach().numpy(), exact, "float32 loss")
    assert_no_less_accurate(g["input"], tg.numpy(), exact_g["input"], "float32 grad")


def test_no_classes_and_empty_batch():
    # torch: probability targets with C = 0 give 0 per sample and a nan mean (numel / C = 0 / 0)
    assert_close(impl.loss("cross_entropy", np.zeros((3, 0)), np.zeros((3, 0)), reduction="none"), np.zeros(3), "C = 0")
    assert np.isnan(impl.loss("cross_entropy", np.zeros((3, 0)), np.zeros((3, 0))))
    # every target ignored with C = 0
    assert impl.loss("cross_entropy", np.zeros((3, 0)), np.full(3, -100), reduction="sum") == 0.0
    loss, g = impl.value_and_grad("cross_entropy", np.zeros((0, 5, 4)), np.zeros((0, 4), dtype=np.int64))
    assert np.isnan(loss) and g["input"].shape == (0, 5, 4)


@pytest.mark.parametrize("input_dtype, weight_dtype", [(np.float32, np.float64), (np.float64, np.float32),
                                                       (np.float16, np.float32), (np.float32, np.int64)])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_class_index_weight_of_another_dtype_refused(input_dtype, weight_dtype, label_smoothing):
    # torch: "expected scalar type Float but found Double"; the weight is neither promoted nor cast
    x = np.array([[0.5, -1.0, 2.0], [0.0, 1.0, -2.0]], dtype=input_dtype)
    t, w = np.array([2, 0]), np.ones(3, dtype=weight_dtype)
    with pytest.raises((TypeError, RuntimeError), match="dtype|scalar type"):
        impl.loss("cross_entropy", x, t, weight=w, label_smoothing=label_smoothing)
    with pytest.raises((TypeError, RuntimeError), match="dtype|scalar type"):
        impl.module("CrossEntropyLoss", weight=w, label_smoothing=label_smoothing)(x, t)


def test_probability_target_weight_of_another_dtype_promotes():
    # unlike class indices, probability targets promote with the weight (torch's result is float64)
    x = np.array([[0.5, -1.0, 2.0], [0.0, 1.0, -2.0]], dtype=np.float32)
    y = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], dtype=np.float32)
    w = np.array([1.0, 2.0, 0.5])
    out = impl.loss("cross_entropy", x, y, weight=w)
    assert out.dtype == np.float64
    # (torch's log_softmax runs in float32 before the promotion: float32's tolerance)
    assert_close(out, impl.loss("cross_entropy", x.astype(np.float64), y.astype(np.float64), weight=w), "promoted",
                 dtype=np.float32)
