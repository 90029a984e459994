"""poisson_nll_loss: l = exp(x) - y x (log_input) or x - y log(x + eps); full adds Stirling where y > 1."""
import numpy as np
from hypothesis import strategies as st

import spec.reference.elementwise as ref
from spec import strategies as S
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties


def draw_args(dtype, smooth=False):
    @st.composite
    def _draw(draw):
        shape = draw(S.shapes())
        tshape = draw(S.broadcastable_to(shape)) if draw(st.booleans()) else shape
        log_input = draw(st.booleans())
        x = draw(S.arrays(shape, dtype, -3, 3) if log_input else S.arrays(shape, dtype, 0.05, 5))
        y = draw(S.arrays(tshape, dtype, 0, 5))
        if smooth:  # away from y = 1, where the Stirling term switches on, and from y <= 0 (NaN gradient)
            y = np.where(np.abs(y - 1) < 0.1, y + 0.3, np.maximum(y, 0.1)).astype(dtype)
        kwargs = {"log_input": log_input, "full": draw(st.booleans())}
        if draw(st.booleans()):
            kwargs["eps"] = draw(st.sampled_from([1e-8, 0.1]))
        return (x, y), kwargs
    return _draw()


def term_scale(args, kwargs):
    """Per element, the magnitude of the terms the loss adds and cancels: exp(x) and y x (or x and
    y log(x + eps)), and the Stirling terms where they apply. exp(x) - y x can be far smaller than
    either term (e.g. x = 1.84, y = 3.75: 6.31 - 6.91); a float32 loss inherits the float32
    rounding of the terms, which torch's float32 arithmetic shares (however it happens to round)."""
    x, y = (np.asarray(a, dtype=np.float64) for a in args)
    eps = kwargs.get("eps", 1e-8)
    with np.errstate(all="ignore"):
        if kwargs.get("log_input", True):
            scale = np.exp(x) + np.abs(y * x)
        else:
            scale = np.abs(x) + np.abs(y * np.log(x + eps))
        if kwargs.get("full", False):
            stirling = np.abs(y * np.log(y)) + np.abs(y) + 0.5 * np.abs(np.log(2 * np.pi * y))
            scale = scale + np.where(y > 1, stirling, 0.0)
    return np.nan_to_num(scale, nan=0.0, posinf=np.inf)


SPEC = LossSpec("poisson_nll_loss", reference=ref.poisson_nll_loss, draw_args=draw_args,
                fd_args=lambda dtype: draw_args(dtype, smooth=True), differentiable=("input", "target"),
                loss_scale=term_scale)
globals().update(standard_properties(SPEC))


def test_log_input_value():
    x, y = np.array([0.0, 1.0]), np.array([2.0, 3.0])
    assert_close(impl.loss("poisson_nll_loss", x, y, reduction="none"), [1.0, np.e - 3.0], "exp(x) - y x")


def test_probability_input_uses_eps():
    out = impl.loss("poisson_nll_loss", np.array([0.0]), np.array([2.0]), log_input=False, eps=0.5, reduction="sum")
    assert_close(out, -2.0 * np.log(0.5), "x - y log(x + eps)")


def test_stirling_term_only_above_one():
    x, y = np.zeros(3), np.array([0.5, 1.0, 3.0])
    plain = impl.loss("poisson_nll_loss", x, y, reduction="none")
    full = impl.loss("poisson_nll_loss", x, y, full=True, reduction="none")
    stirling = 3 * np.log(3) - 3 + 0.5 * np.log(2 * np.pi * 3)
    assert_close(full - plain, [0.0, 0.0, stirling], "Stirling term where y > 1")


def test_full_target_gradient_nan_for_non_positive_target():
    # torch's autograd through the masked Stirling term: 0 * log(y) is NaN for y <= 0
    _, g = impl.value_and_grad("poisson_nll_loss", np.zeros(3), np.array([0.0, 0.5, 2.0]), full=True, reduction="sum")
    assert np.isnan(g["target"][0])
    assert_close(g["target"][1:], [0.0, np.log(2) + 0.25], "d/dy with full")


def test_nan_target_propagates_through_stirling():
    out = impl.loss("poisson_nll_loss", np.zeros(2), np.array([np.nan, 0.5]), full=True, reduction="none")
    assert np.isnan(out[0]) and out[1] == 1.0


def test_full_target_gradient_float32_accuracy():
    # -log(x + eps) + log(y) + 1/(2y) cancels (about -0.13 from terms near 1): the float32 gradient
    # must still be within float32 rounding of the exact value (one rounding of the cancelling sum)
    x = np.full((2, 3, 1, 1), 2.5625, np.float32)
    y = np.array([[1.75]], np.float32)
    _, g = impl.value_and_grad("poisson_nll_loss", x, y, log_input=False, full=True, eps=0.1, reduction="sum")
    exact = 6 * (-np.log(2.5625 + 0.1) + np.log(1.75) + 0.5 / 1.75)
    assert abs(float(g["target"][0, 0]) - exact) <= 2.5e-7, g["target"]
