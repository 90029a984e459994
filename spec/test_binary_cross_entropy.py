"""binary_cross_entropy: l = -w [y log x + (1 - y) log(1 - x)], each log clamped at -100."""
import numpy as np
import pytest
from hypothesis import strategies as st

import spec.reference.elementwise as ref
from spec import strategies as S
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties


def draw_args(dtype, target_margin=0.0):
    @st.composite
    def _draw(draw):
        shape = draw(S.shapes())
        x = draw(S.arrays(shape, dtype, 0.02, 0.98))
        y = draw(S.arrays(shape, dtype, target_margin, 1 - target_margin))
        kwargs = {}
        if draw(st.booleans()):
            kwargs["weight"] = draw(S.arrays(draw(S.broadcastable_to(shape)), dtype, 0, 2))
        return (x, y), kwargs
    return _draw()


# finite differences move the target by up to 2e-4: keep it inside [0, 1], where torch accepts it
SPEC = LossSpec("binary_cross_entropy", reference=ref.binary_cross_entropy, draw_args=draw_args,
                fd_args=lambda dtype: draw_args(dtype, target_margin=0.01), differentiable=("input", "target"))
globals().update(standard_properties(SPEC))


def test_log_clamp_at_minus_100():
    x, y = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    out, g = impl.value_and_grad("binary_cross_entropy", x, y, reduction="none")
    assert_close(out, [100.0, 100.0, 0.0, 0.0], "bce at 0 and 1 is finite (logs clamped at -100)")
    assert np.all(np.isfinite(g["input"]))


def test_gradient_at_edge_uses_1e12_floor():
    _, g = impl.value_and_grad("binary_cross_entropy", np.array([0.0]), np.array([0.3]), reduction="sum")
    assert_close(g["input"], [-0.3 / float(np.float32(1e-12))], "(x - y) / max(x (1 - x), 1e-12)")


def test_weight_broadcasts():
    x, y = np.full((2, 3), 0.5), np.ones((2, 3))
    out = impl.loss("binary_cross_entropy", x, y, weight=np.array([1.0, 2.0, 3.0]), reduction="sum")
    assert_close(out, 12 * np.log(2.0), "weight broadcast over rows")


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan])
def test_input_outside_unit_interval_refused(bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        impl.loss("binary_cross_entropy", np.array([0.5, bad]), np.array([0.5, 0.5]))


def test_target_of_another_size_refused():
    with pytest.raises(ValueError, match="target"):
        impl.loss("binary_cross_entropy", np.full((2, 3), 0.5), np.ones(3))


def test_weight_that_enlarges_refused():
    with pytest.raises(ValueError, match="weight"):
        impl.loss("binary_cross_entropy", np.full(3, 0.5), np.ones(3), weight=np.ones((2, 3)))


def test_integer_target_refused():
    with pytest.raises(TypeError, match="target"):
        impl.loss("binary_cross_entropy", np.full(3, 0.5), np.ones(3, dtype=np.int64))


@pytest.mark.parametrize("bad", [-0.1, 1.5, np.nan, np.inf])
def test_target_outside_unit_interval_refused(bad):
    # torch: "all elements of target should be between 0 and 1" (NaN included), checked after the input
    with pytest.raises(ValueError, match="all elements of target should be between 0 and 1"):
        impl.loss("binary_cross_entropy", np.array([0.5, 0.5]), np.array([bad, 1.0]), reduction="none")
    with pytest.raises(ValueError, match="all elements of input should be between 0 and 1"):
        impl.loss("binary_cross_entropy", np.array([2.0, 0.5]), np.array([bad, 1.0]), reduction="none")


def test_target_bounds_accepted():
    out = impl.loss("binary_cross_entropy", np.array([0.25, 0.25]), np.array([0.0, 1.0]), reduction="none")
    assert_close(out, [-np.log(0.75), -np.log(0.25)], "targets 0 and 1 are in range")
