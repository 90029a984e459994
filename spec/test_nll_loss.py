"""nll_loss: l_n = -w_{y_n} x_{n, y_n}, 0 where y_n == ignore_index; 'mean' divides by sum w_{y_n}."""
import numpy as np
import pytest

import spec.reference.classification as ref
from spec.classification_strategies import class_index_args
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties

SPEC = LossSpec("nll_loss", reference=ref.nll_loss, draw_args=class_index_args(), differentiable=("input",))
globals().update(standard_properties(SPEC))

X = np.array([[-1.0, -2.0, -3.0], [-0.5, -1.5, -2.5], [-0.1, -0.2, -0.3]])


def test_docs_example_value():
    # (1 + 2.5 + 0.1) / 3
    assert_close(impl.loss("nll_loss", X, np.array([0, 2, 0])), 3.6 / 3, "nll_loss mean")
    assert_close(impl.loss("nll_loss", X, np.array([0, 2, 0]), reduction="none"), [1.0, 2.5, 0.1], "nll_loss none")


def test_weighted_mean_divides_by_target_weights():
    w = np.array([1.0, 2.0, 4.0])
    out = impl.loss("nll_loss", X, np.array([0, 2, 1]), weight=w)
    assert_close(out, (1.0 * 1 + 4 * 2.5 + 2 * 0.2) / (1 + 4 + 2), "weighted mean")


@pytest.mark.parametrize("ignore_index", [1, -1, 7, -100])
def test_ignore_index_inside_and_outside_the_class_range(ignore_index):
    t = np.array([0, ignore_index, 2])
    out = impl.loss("nll_loss", X, t, ignore_index=ignore_index, reduction="none")
    assert_close(out, [1.0, 0.0, 0.3], "ignored entry is 0")
    mean = impl.loss("nll_loss", X, t, ignore_index=ignore_index)
    assert_close(mean, (1.0 + 0.3) / 2, "mean over the kept targets")
    _, grads = impl.value_and_grad("nll_loss", X, t, ignore_index=ignore_index)
    assert_close(grads["input"][1], np.zeros(3), "ignored row has zero gradient")
    assert_close(grads["input"][0], [-0.5, 0, 0], "kept row")


def test_all_ignored_mean_is_nan_sum_is_zero():
    t = np.array([-100, -100, -100])
    assert np.isnan(impl.loss("nll_loss", X, t))
    assert impl.loss("nll_loss", X, t, reduction="sum") == 0.0
    _, grads = impl.value_and_grad("nll_loss", X, t, reduction="sum")
    assert_close(grads["input"], np.zeros_like(X), "all ignored: zero gradient")


def test_unbatched_input_gives_0d_loss():
    out = impl.loss("nll_loss", X[1], np.array(2), reduction="none")
    assert out.shape == () and float(out) == 2.5


def test_kdim_input_shapes():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5) / -100
    t = np.zeros((2, 4, 5), dtype=np.int64)
    t[1, 2, 3] = 2
    out = impl.loss("nll_loss", x, t, reduction="none")
    assert out.shape == (2, 4, 5)
    assert_close(out[1, 2, 3], -x[1, 2, 2, 3], "K-dim entry")
    assert_close(out[0, 1, 1], -x[0, 0, 1, 1], "K-dim entry")


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.uint32, np.int64, np.uint64])
def test_every_integer_target_dtype(dtype):
    t = np.array([0, 2, 1], dtype=dtype)
    assert_close(impl.loss("nll_loss", X, t), impl.loss("nll_loss", X, t.astype(np.int64)), f"target {dtype}")


@pytest.mark.parametrize("bad", [3, -1, 100])
def test_target_out_of_range_raises_index_error(bad):
    with pytest.raises(IndexError, match=str(bad)):
        impl.loss("nll_loss", X, np.array([0, bad, 1]))


def test_float_target_refused():
    with pytest.raises((TypeError, RuntimeError)):
        impl.loss("nll_loss", X, np.array([0.0, 1.0, 2.0]))


def test_batch_size_mismatch_refused():
    with pytest.raises(ValueError, match="batch_size"):
        impl.loss("nll_loss", X, np.array([0, 1]))


def test_kdim_target_shape_mismatch_refused():
    with pytest.raises((ValueError, RuntimeError)):
        impl.loss("nll_loss", np.zeros((2, 3, 4, 5)), np.zeros((2, 4, 6), dtype=np.int64))


def test_0d_input_refused():
    with pytest.raises(ValueError):
        impl.loss("nll_loss", np.array(1.0), np.array(0))


def test_weight_of_wrong_size_refused():
    with pytest.raises((ValueError, RuntimeError), match="weight"):
        impl.loss("nll_loss", X, np.array([0, 1, 2]), weight=np.ones(4))


def test_empty_batch():
    x, t = np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    assert np.isnan(impl.loss("nll_loss", x, t))
    assert impl.loss("nll_loss", x, t, reduction="sum") == 0.0
    assert impl.loss("nll_loss", x, t, reduction="none").shape == (0,)


def test_float16_input_gives_float16():
    out = impl.loss("nll_loss", X.astype(np.float16), np.array([0, 1, 2]))
    assert out.dtype == np.float16


@pytest.mark.parametrize("input_dtype, weight_dtype", [(np.float32, np.float64), (np.float64, np.float32),
                                                       (np.float32, np.int64)])
def test_weight_of_another_dtype_refused(input_dtype, weight_dtype):
    # torch: "expected scalar type Float but found Double"; the weight is neither promoted nor cast
    x, t, w = X.astype(input_dtype), np.array([0, 2, 1]), np.ones(3, dtype=weight_dtype)
    with pytest.raises((TypeError, RuntimeError), match="dtype|scalar type"):
        impl.loss("nll_loss", x, t, weight=w)
    with pytest.raises((TypeError, RuntimeError), match="dtype|scalar type"):
        impl.module("NLLLoss", weight=w)(x, t)
