"""l1_loss: l = w |x - y|, reduced by 'none' | 'mean' | 'sum'."""
import numpy as np
import pytest

import spec.reference.elementwise as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties
from spec.strategies import away_from_kinks, difference, pointwise_args

# Finite differences need |x - y| away from 0, where l1 has its kink.
SPEC = LossSpec("l1_loss", reference=ref.l1_loss, draw_args=pointwise_args(), differentiable=("input", "target"),
                fd_args=away_from_kinks(pointwise_args(), lambda args, kwargs: difference(args)))
globals().update(standard_properties(SPEC))


def test_docs_style_value():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[1.5, 2.0], [2.0, 6.0]])
    assert_close(impl.loss("l1_loss", x, y), (0.5 + 0 + 1 + 2) / 4, "l1_loss value")


def test_gradient_is_zero_where_input_equals_target():
    _, grads = impl.value_and_grad("l1_loss", np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 4.0]), reduction="sum")
    assert_close(grads["input"], [0.0, 1.0, -1.0], "sign(x - y) with sign(0) = 0")
    assert_close(grads["target"], [0.0, -1.0, 1.0], "-sign(x - y)")


def test_weight_mean_divides_by_weight_sum():
    x, y, w = np.array([1.0, -2.0, 3.0]), np.zeros(3), np.array([2.0, 1.0, 0.0])
    assert_close(impl.loss("l1_loss", x, y, weight=w), (2 + 2) / 3, "weighted l1 mean")


def test_nan_propagates_to_the_value_but_not_the_gradient():
    # torch 2.x computes l1_loss as abs(x - y): abs's backward is sign(nan) = 0
    loss, grads = impl.value_and_grad("l1_loss", np.array([np.nan, 1.0]), np.zeros(2), reduction="none")
    assert np.isnan(loss[0]) and loss[1] == 1.0
    assert grads["input"].tolist() == [0.0, 1.0]


def test_float_target_broadcast_warns():
    with pytest.warns(UserWarning, match="different to the input size"):
        impl.loss("l1_loss", np.zeros((2, 3)), np.ones((1, 3)))
