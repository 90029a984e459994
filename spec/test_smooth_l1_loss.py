"""smooth_l1_loss: l = d^2 / (2 beta) where |d| < beta, else |d| - beta / 2 (d = x - y); beta = 0 is l1."""
import warnings

import numpy as np
import pytest
from hypothesis import strategies as st

import spec.reference.elementwise as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties
from spec.strategies import away_from_kinks, difference, pointwise_args


def draw_args(dtype, betas=(0.0, 0.5, 1.0, 2.5)):
    return st.tuples(pointwise_args(-4, 4)(dtype), st.sampled_from(betas)).map(lambda t: (t[0][0], {"beta": t[1]}))


# Finite differences only where the loss is smooth: beta > 0 (beta = 0 is l1, with its kink at
# d = 0) and |d| away from beta, where the second derivative jumps.
SPEC = LossSpec("smooth_l1_loss", reference=ref.smooth_l1_loss, draw_args=draw_args,
                fd_args=away_from_kinks(lambda dtype: draw_args(dtype, betas=(0.5, 1.0, 2.5)),
                                        lambda args, kwargs: np.abs(difference(args) - kwargs["beta"])),
                differentiable=("input", "target"))
globals().update(standard_properties(SPEC))


def test_quadratic_inside_linear_outside():
    x, y = np.array([0.2, -3.0, 1.0]), np.zeros(3)
    # 0.2^2 / 2 = 0.02; |-3| - 0.5 = 2.5; at |d| = beta the linear branch: 1 - 0.5
    assert_close(impl.loss("smooth_l1_loss", x, y, reduction="none"), [0.02, 2.5, 0.5], "smooth_l1 branches")
    _, g = impl.value_and_grad("smooth_l1_loss", x, y, reduction="sum")
    assert_close(g["input"], [0.2, -1.0, 1.0], "smooth_l1 gradient")


def test_beta_zero_equals_l1():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    x[0, 0] = y[0, 0]
    for reduction in ("none", "mean", "sum"):
        assert_close(impl.loss("smooth_l1_loss", x, y, beta=0.0, reduction=reduction),
                     impl.loss("l1_loss", x, y, reduction=reduction), f"beta=0 vs l1 ({reduction})", rtol=0, atol=0)
    _, g = impl.value_and_grad("smooth_l1_loss", x, y, beta=0.0, reduction="sum")
    assert_close(g["input"], np.sign(x - y), "beta=0 gradient is sign (0 at 0)")


def test_negative_beta_refused():
    with pytest.raises(ValueError, match="beta"):
        impl.loss("smooth_l1_loss", np.zeros(3), np.zeros(3), beta=-1.0)


def test_broadcast_target_warns_like_torch():
    with pytest.warns(UserWarning, match="different to the input size"):
        impl.loss("smooth_l1_loss", np.zeros((2, 3)), np.ones(3))


def test_nan_propagates():
    out, g = impl.value_and_grad("smooth_l1_loss", np.array([np.nan, 0.5]), np.zeros(2), reduction="none")
    assert np.isnan(out[0]) and out[1] == 0.125
    assert np.isnan(g["input"][0]) and g["input"][1] == 0.5


def test_incompatible_shapes_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="broadcast"):
            impl.loss("smooth_l1_loss", np.zeros((2, 3)), np.zeros(4))
