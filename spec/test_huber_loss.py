"""huber_loss: l = w d^2 / 2 where |d| < delta, else w delta (|d| - delta / 2); weighted 'mean' is mean(w l)."""
import numpy as np
import pytest
from hypothesis import strategies as st

import spec.reference.elementwise as ref
from spec import strategies as S
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties


def draw_args(dtype):
    @st.composite
    def _draw(draw):
        shape = draw(S.shapes())
        tshape = draw(S.broadcastable_to(shape)) if draw(st.booleans()) else shape
        x = draw(S.arrays(shape, dtype, -4, 4))
        y = draw(S.arrays(tshape, dtype, -4, 4))
        kwargs = {"delta": draw(st.sampled_from([0.5, 1.0, 2.0]))}
        if draw(st.booleans()):
            kwargs["weight"] = draw(S.arrays(shape, dtype, 0, 2))
        return (x, y), kwargs
    return _draw()


# Finite differences away from |d| = delta, where the second derivative jumps.
SPEC = LossSpec("huber_loss", reference=ref.huber_loss, draw_args=draw_args,
                fd_args=S.away_from_kinks(draw_args, lambda args, kwargs: np.abs(S.difference(args) - kwargs["delta"])),
                differentiable=("input", "target", "weight"), legacy=False)
globals().update(standard_properties(SPEC))


def test_branches():
    x, y = np.array([0.5, -3.0]), np.zeros(2)
    # 0.5^2 / 2; 2 * (3 - 1)
    assert_close(impl.loss("huber_loss", x, y, delta=2.0, reduction="none"), [0.125, 4.0], "huber branches")


def test_weighted_mean_divides_by_numel():
    x, y, w = np.array([1.0, 2.0, 3.0]), np.zeros(3), np.array([1.0, 0.0, 3.0])
    # unweighted l = [0.5, 1.5, 2.5] at delta=1; mean(w l) = (0.5 + 7.5) / 3 (unlike mse/l1)
    assert_close(impl.loss("huber_loss", x, y, weight=w), 8.0 / 3, "weighted huber mean")
    _, g = impl.value_and_grad("huber_loss", x, y, weight=w, reduction="sum")
    assert_close(g["weight"], [0.5, 1.5, 2.5], "huber weight gradient is the unweighted loss")


def test_huber_is_delta_times_smooth_l1():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(50) * 3, rng.standard_normal(50)
    assert_close(impl.loss("huber_loss", x, y, delta=1.5, reduction="none"),
                 1.5 * impl.loss("smooth_l1_loss", x, y, beta=1.5, reduction="none"), "huber = delta * smooth_l1")


@pytest.mark.parametrize("delta", [0.0, -1.0])
def test_non_positive_delta_refused(delta):
    with pytest.raises(ValueError, match="delta"):
        impl.loss("huber_loss", np.zeros(3), np.zeros(3), delta=delta)


def test_weight_of_another_shape_refused():
    with pytest.raises(ValueError, match="weight"):
        impl.loss("huber_loss", np.zeros((2, 3)), np.zeros((2, 3)), weight=np.ones(3))


def test_no_legacy_arguments():
    with pytest.raises(TypeError):
        impl.loss("huber_loss", np.zeros(3), np.zeros(3), size_average=True)


def test_nan_propagates():
    out = impl.loss("huber_loss", np.array([np.nan, 0.5]), np.zeros(2), reduction="none")
    assert np.isnan(out[0]) and out[1] == 0.125


@pytest.mark.parametrize("delta", [1 + 0j, np.complex128(2.0), "1.0", None])
def test_module_refuses_a_non_real_delta(delta):
    # torch's HuberLoss checks delta's type when constructed (not only when called)
    with pytest.raises(TypeError, match="delta"):
        impl.module("HuberLoss", delta=delta)


def test_module_accepts_int_and_float_delta():
    x, y = np.array([0.5, -3.0]), np.zeros(2)
    for delta in (2, 2.0):
        # 0.5^2 / 2 + 2 * (3 - 1)
        assert_close(impl.module("HuberLoss", delta=delta, reduction="sum")(x, y), 4.125, f"HuberLoss(delta={delta!r})")
