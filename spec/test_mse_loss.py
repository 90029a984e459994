"""mse_loss: l = w (x - y)^2, reduced by 'none' | 'mean' | 'sum'."""
import warnings

import numpy as np
import pytest

import spec.reference.elementwise as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties
from spec.strategies import pointwise_args

SPEC = LossSpec("mse_loss", reference=ref.mse_loss, draw_args=pointwise_args(), differentiable=("input", "target"))
globals().update(standard_properties(SPEC))


def test_docs_example_value():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[1.5, 2.0], [2.0, 6.0]])
    # (0.25 + 0 + 1 + 4) / 4
    assert_close(impl.loss("mse_loss", x, y), 1.3125, "mse_loss docs example")


def test_broadcast_target_warns_like_torch():
    with pytest.warns(UserWarning, match="different to the input size"):
        impl.loss("mse_loss", np.zeros((2, 3)), np.ones(3))


def test_weight_mean_divides_by_weight_sum():
    x, y, w = np.array([1.0, 2.0, 3.0]), np.zeros(3), np.array([1.0, 0.0, 3.0])
    assert_close(impl.loss("mse_loss", x, y, weight=w), (1 + 27) / 4, "weighted mse mean")
    assert_close(impl.loss("mse_loss", x, y, weight=w, reduction="sum"), 28.0, "weighted mse sum")


def test_weight_of_another_shape_refused():
    with pytest.raises(ValueError, match="weight"):
        impl.loss("mse_loss", np.zeros((2, 3)), np.zeros((2, 3)), weight=np.ones(3))


def test_incompatible_shapes_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="broadcast"):
            impl.loss("mse_loss", np.zeros((2, 3)), np.zeros(4))


def test_integer_and_bool_inputs_promote_as_in_torch():
    # torch: mse_loss(int64 input, float64 target) is float64; a bool input counts as 0 and 1
    out = impl.loss("mse_loss", np.array([0, 1, 3]), np.full(3, 0.5), reduction="none")
    assert out.dtype == np.float64
    assert_close(out, [0.25, 0.25, 6.25], "integer input promoted to the target's dtype")
    out = impl.loss("mse_loss", np.array([True, False]), np.zeros(2, np.float32), reduction="sum")
    assert out.dtype == np.float32 and float(out) == 1.0


def test_string_input_refused():
    with pytest.raises(TypeError, match="input"):
        impl.loss("mse_loss", np.array(["a", "b"]), np.zeros(2))


def test_empty_mean_is_nan_and_sum_zero():
    assert np.isnan(impl.loss("mse_loss", np.zeros(0), np.zeros(0)))
    assert impl.loss("mse_loss", np.zeros(0), np.zeros(0), reduction="sum") == 0.0


def test_nan_propagates():
    out = impl.loss("mse_loss", np.array([np.nan, 1.0]), np.zeros(2), reduction="none")
    assert np.isnan(out[0]) and out[1] == 1.0
