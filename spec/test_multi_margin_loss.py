"""multi_margin_loss: l_n = sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C, reduced over samples."""
import numpy as np
import pytest

import spec.reference.margin as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.margin_embedding_strategies import multi_margin_args
from spec.properties import LossSpec, standard_properties

SPEC = LossSpec("multi_margin_loss", reference=ref.multi_margin_loss, draw_args=multi_margin_args(),
                fd_args=multi_margin_args(kink_free=True), differentiable=("input",))
globals().update(standard_properties(SPEC))

X = np.array([[0.1, 0.2, 0.4, 0.8], [0.5, -0.3, 0.0, 1.0]])
Y = np.array([3, 0])


def test_docs_example_value():
    # torch docs: x = [0.1, 0.2, 0.4, 0.8], y = 3 -> (0.3 + 0.4 + 0.6) / 4 = 0.325
    assert_close(impl.loss("multi_margin_loss", X[:1], Y[:1]), 0.325, "multi_margin_loss docs example")


def test_p2_weight_multiplies_after_the_power():
    w = np.array([1.0, 2.0, 3.0, 0.5])
    # sample 0: y=3, w=0.5: (0.3^2 + 0.4^2 + 0.6^2) * 0.5 / 4; the docs' (w z)^2 would differ
    expected0 = (0.09 + 0.16 + 0.36) * 0.5 / 4
    # sample 1: y=0, z = 1 - 0.5 + x_i = 0.2, 0.5, 1.5: (0.04 + 0.25 + 2.25) * 1 / 4
    expected1 = (0.04 + 0.25 + 2.25) / 4
    out = impl.loss("multi_margin_loss", X, Y, p=2, weight=w, reduction="none")
    assert_close(out, [expected0, expected1], "p=2 with weight")


def test_p2_weight_gradient():
    w = np.array([1.0, 2.0, 3.0, 0.5])
    _, g = impl.value_and_grad("multi_margin_loss", X, Y, p=2, weight=w, reduction="sum")
    # sample 0: d/dx_i = 2 w z / C for z = 0.3, 0.4, 0.6 (w = 0.5); x_y gets minus their sum
    assert_close(g["input"][0], [0.075, 0.1, 0.15, -0.325], "grad p=2 weight")


def test_unbatched_input_and_zero_d_target():
    out = impl.loss("multi_margin_loss", X[0], np.array(3), reduction="none")
    assert np.shape(out) == () and np.isclose(out, 0.325)
    out1 = impl.loss("multi_margin_loss", X[0], np.array([3]), reduction="none")
    assert np.shape(out1) == (1,) and np.isclose(out1[0], 0.325)


def test_margin_zero_and_negative():
    assert_close(impl.loss("multi_margin_loss", X[:1], Y[:1], margin=0.0), 0.0, "margin 0: all below target")
    assert_close(impl.loss("multi_margin_loss", X[:1], Y[:1], margin=-1.0), 0.0, "negative margin")


def test_any_integer_target_dtype():
    for dt in (np.int8, np.int32, np.uint16, np.int64):
        assert_close(impl.loss("multi_margin_loss", X, Y.astype(dt)), impl.loss("multi_margin_loss", X, Y), str(dt))


def test_empty_batch():
    assert impl.loss("multi_margin_loss", np.zeros((0, 3)), np.zeros(0, dtype=np.int64), reduction="none").shape == (0,)
    assert impl.loss("multi_margin_loss", np.zeros((0, 3)), np.zeros(0, dtype=np.int64), reduction="sum") == 0.0


def test_nan_input_gives_no_term():
    # z = nan is not > 0, so torch's kernel skips it (and its gradient is 0)
    x = np.array([[np.nan, 0.0, 0.5]])
    loss, g = impl.value_and_grad("multi_margin_loss", x, np.array([1]), reduction="sum")
    assert_close(loss, 1.5 / 3, "nan term skipped")
    assert_close(g["input"], [[0.0, -1 / 3, 1 / 3]], "nan term has no gradient")


@pytest.mark.parametrize("p", [0, 3, 1.5, -1])
def test_bad_p_refused(p):
    with pytest.raises(ValueError, match="p"):
        impl.loss("multi_margin_loss", X, Y, p=p)


def test_target_out_of_range_refused():
    with pytest.raises(IndexError, match="target"):
        impl.loss("multi_margin_loss", X, np.array([0, 4]))
    with pytest.raises(IndexError, match="target"):
        impl.loss("multi_margin_loss", X, np.array([-1, 0]))


def test_float_target_refused():
    with pytest.raises(TypeError, match="target"):
        impl.loss("multi_margin_loss", X, Y.astype(np.float64))


@pytest.mark.parametrize("target", [np.array([0]), np.array([[3], [0]]), np.array([0, 1, 2])])
def test_target_shape_refused(target):
    with pytest.raises(ValueError, match="target"):
        impl.loss("multi_margin_loss", X, target)


def test_input_shape_refused():
    with pytest.raises(ValueError, match="input"):
        impl.loss("multi_margin_loss", np.zeros((2, 3, 4)), np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="input"):
        impl.loss("multi_margin_loss", np.zeros((2, 0)), np.zeros(2, dtype=np.int64))


@pytest.mark.parametrize("weight", [np.ones(3), np.ones((1, 4))])
def test_weight_shape_refused(weight):
    with pytest.raises(ValueError, match="weight"):
        impl.loss("multi_margin_loss", X, Y, weight=weight)


@pytest.mark.torch
def test_p2_weight_matches_torch():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5))
    y = rng.integers(0, 5, 6)
    w = rng.uniform(0.1, 2, 5)
    t = torch.tensor(x, requires_grad=True)
    out = F.multi_margin_loss(t, torch.tensor(y), p=2, margin=0.7, weight=torch.tensor(w))
    out.backward()
    loss, g = impl.value_and_grad("multi_margin_loss", x, y, p=2, margin=0.7, weight=w)
    assert_close(loss, out.item(), "p=2 weight vs torch")
    assert_close(g["input"], t.grad.numpy(), "grad p=2 weight vs torch")


@pytest.mark.parametrize("input_dtype, weight_dtype", [(np.float32, np.float64), (np.float64, np.float32),
                                                       (np.float32, np.int64)])
def test_weight_of_another_dtype_refused(input_dtype, weight_dtype):
    # torch: "expected scalar type Float but found Double"; the weight is neither promoted nor cast
    x, w = X.astype(input_dtype), np.ones(4, dtype=weight_dtype)
    with pytest.raises((TypeError, RuntimeError), match="dtype|scalar type"):
        impl.loss("multi_margin_loss", x, Y, weight=w)
    with pytest.raises((TypeError, RuntimeError), match="dtype|scalar type"):
        impl.module("MultiMarginLoss", weight=w)(x, Y)

