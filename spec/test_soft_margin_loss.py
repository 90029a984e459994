"""soft_margin_loss: l = log(1 + exp(-y x)); torch differentiates the input only."""
import numpy as np

import spec.reference.elementwise as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties
from spec.strategies import pointwise_args

SPEC = LossSpec("soft_margin_loss", reference=ref.soft_margin_loss, draw_args=pointwise_args(-8, 8, -2, 2),
                differentiable=("input",))
globals().update(standard_properties(SPEC))


def test_value():
    x, y = np.array([0.0, 2.0, 2.0]), np.array([1.0, 1.0, -1.0])
    assert_close(impl.loss("soft_margin_loss", x, y, reduction="none"),
                 [np.log(2.0), np.log1p(np.exp(-2.0)), np.log1p(np.exp(2.0))], "soft margin values")


def test_large_margin_is_finite_and_accurate():
    # torch's direct log1p(exp(-y x)) overflows to inf here in float32; the value is -y x + tiny
    x = np.array([100.0, -100.0], dtype=np.float32)
    out = impl.loss("soft_margin_loss", x, np.array([-1.0, 1.0], dtype=np.float32), reduction="none")
    assert_close(out, [100.0, 100.0], "soft margin far from the boundary", dtype=np.float32)
    _, g = impl.value_and_grad("soft_margin_loss", np.array([800.0]), np.array([1.0]), reduction="sum")
    assert g["input"][0] == 0.0 or abs(g["input"][0]) < 1e-300


def test_target_not_differentiated():
    _, g = impl.value_and_grad("soft_margin_loss", np.array([0.3]), np.array([1.0]))
    assert set(g) == {"input"}


def test_nan_propagates():
    out = impl.loss("soft_margin_loss", np.array([np.nan, 0.0]), np.ones(2), reduction="none")
    assert np.isnan(out[0]) and np.isclose(out[1], np.log(2))
