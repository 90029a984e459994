"""gaussian_nll_loss: l = (log v + (x - y)^2 / v) / 2 (+ log(2 pi) / 2), v = max(var, eps)."""
import numpy as np
import pytest
from hypothesis import strategies as st

import spec.reference.elementwise as ref
from spec import strategies as S
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties


def draw_args(dtype, var_lo=0.0):
    @st.composite
    def _draw(draw):
        shape = draw(S.shapes(min_dims=1))
        tshape = draw(S.broadcastable_to(shape)) if draw(st.booleans()) else shape
        x = draw(S.arrays(shape, dtype, -4, 4))
        y = draw(S.arrays(tshape, dtype, -4, 4))
        kind = draw(st.sampled_from(["same", "last1", "dropped", "float"]))
        if kind == "float":
            var = float(draw(S.finite_floats(max(var_lo, 0.01), 3)))
        else:
            vshape = {"same": shape, "last1": shape[:-1] + (1,), "dropped": shape[:-1]}[kind]
            var = draw(S.arrays(vshape, dtype, var_lo, 3))
        kwargs = {"full": draw(st.booleans())}
        if draw(st.booleans()):
            kwargs["eps"] = 0.1
        return (x, y, var), kwargs
    return _draw()


SPEC = LossSpec("gaussian_nll_loss", reference=ref.gaussian_nll_loss, draw_args=draw_args,
                fd_args=lambda dtype: draw_args(dtype, var_lo=0.2), differentiable=("input", "target", "var"),
                legacy=False)
globals().update(standard_properties(SPEC))


def test_value():
    out = impl.loss("gaussian_nll_loss", np.array([1.0]), np.array([3.0]), np.array([2.0]), reduction="sum")
    assert_close(out, 0.5 * (np.log(2.0) + 4 / 2.0), "gaussian nll")
    full = impl.loss("gaussian_nll_loss", np.array([1.0]), np.array([3.0]), np.array([2.0]), full=True,
                     reduction="sum")
    assert_close(full - out, 0.5 * np.log(2 * np.pi), "full adds log(2 pi) / 2")


def test_var_clamped_for_value_gradient_at_clamp():
    x, y, var = np.array([0.0]), np.array([1.0]), np.array([1e-9])
    out, g = impl.value_and_grad("gaussian_nll_loss", x, y, var, eps=1e-6, reduction="sum")
    assert_close(out, 0.5 * (np.log(1e-6) + 1 / 1e-6), "var clamped at eps")
    # torch clamps under no_grad: the gradient reaches var, evaluated at the clamped value
    assert_close(g["var"], [0.5 * (1 / 1e-6 - 1 / 1e-12)], "var gradient at the clamp")


@pytest.mark.parametrize("vshape", [(2, 3), (2, 1), (2,), (1, 3)])
def test_var_shapes_accepted(vshape):
    x, y = np.zeros((2, 3)), np.ones((2, 3))
    out, g = impl.value_and_grad("gaussian_nll_loss", x, y, np.full(vshape, 2.0), reduction="none")
    assert out.shape == (2, 3)
    assert g["var"].shape == vshape
    assert_close(out, np.full((2, 3), 0.5 * (np.log(2.0) + 0.5)), f"var shape {vshape}")


@pytest.mark.parametrize("vshape", [(3,), (2, 2), (1, 1), (2, 3, 1)])
def test_var_of_incorrect_size_refused(vshape):
    with pytest.raises(ValueError, match="var"):
        impl.loss("gaussian_nll_loss", np.zeros((2, 3)), np.zeros((2, 3)), np.ones(vshape))


def test_negative_var_refused():
    with pytest.raises(ValueError, match="negative"):
        impl.loss("gaussian_nll_loss", np.zeros(3), np.zeros(3), np.array([1.0, -0.5, 1.0]))
    with pytest.raises(ValueError, match="negative"):
        impl.loss("gaussian_nll_loss", np.zeros(3), np.zeros(3), -1.0)


def test_float_var():
    out = impl.loss("gaussian_nll_loss", np.zeros(3), np.ones(3), 0.5, reduction="sum")
    assert_close(out, 3 * 0.5 * (np.log(0.5) + 2.0), "float var")


def test_nan_var_propagates():
    out = impl.loss("gaussian_nll_loss", np.zeros(2), np.zeros(2), np.array([np.nan, 1.0]), reduction="none")
    assert np.isnan(out[0]) and out[1] == 0.0
