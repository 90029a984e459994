"""kl_div: l = y (log y - x) (0 where y = 0), or exp(y) (y - x) with log_target; 'batchmean' divides by N."""
import warnings

import numpy as np
import pytest
from hypothesis import strategies as st

import spec.reference.elementwise as ref
from spec import strategies as S
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties


def draw_args(dtype, target_lo=0.0):
    @st.composite
    def _draw(draw):
        shape = draw(S.shapes())
        tshape = draw(S.broadcastable_to(shape)) if draw(st.booleans()) else shape
        x = draw(S.arrays(shape, dtype, -5, 1))
        log_target = draw(st.booleans())
        if log_target:
            y = draw(S.arrays(tshape, dtype, -5, 1))
        else:
            y = draw(S.arrays(tshape, dtype, target_lo, 1))
            if target_lo == 0 and y.size and draw(st.booleans()):
                y.flat[0] = 0  # a zero target contributes 0
        return (x, y), {"log_target": log_target}
    return _draw()


# torch's target gradient y * grad / y underflows to 0 where y is subnormal (the exact value is
# log y + 1 - x, which fastloss gives): the torch comparison draws no subnormal targets
SPEC = LossSpec("kl_div", reference=ref.kl_div, draw_args=draw_args,
                fd_args=lambda dtype: draw_args(dtype, target_lo=0.05), differentiable=("input", "target"),
                reductions=("none", "mean", "sum", "batchmean"),
                torch_args=lambda dtype: draw_args(dtype).filter(lambda drawn: S.no_subnormals(*drawn[0])))
globals().update(standard_properties(SPEC))


def test_batchmean_divides_by_batch():
    x, y = np.log(np.full((2, 4), 0.25)), np.full((2, 4), 0.25)
    y2 = np.array([[0.5, 0.5, 0.0, 0.0], [0.25] * 4])
    # row 0: 2 * 0.5 * log(0.5 / 0.25) = log 2; row 1: 0; batchmean = log(2) / 2
    assert_close(impl.loss("kl_div", x, y2, reduction="batchmean"), np.log(2.0) / 2, "kl batchmean")
    assert_close(impl.loss("kl_div", x, y, reduction="batchmean"), 0.0, "kl of equal distributions")


def test_zero_target_contributes_zero_and_nan_target_gradient():
    x, y = np.array([-1.0, -2.0]), np.array([0.0, 0.5])
    out, g = impl.value_and_grad("kl_div", x, y, reduction="none")
    assert_close(out, [0.0, 0.5 * (np.log(0.5) + 2.0)], "0 where target is 0")
    # torch's autograd through xlogy(y, y) gives y / y = NaN at y = 0
    assert np.isnan(g["target"][0]) and np.isclose(g["target"][1], np.log(0.5) + 1 + 2.0)


def test_log_target_matches_plain_target():
    rng = np.random.default_rng(1)
    x, p = rng.uniform(-3, 0, (3, 4)), rng.uniform(0.01, 1, (3, 4))
    assert_close(impl.loss("kl_div", x, np.log(p), log_target=True, reduction="sum"),
                 impl.loss("kl_div", x, p, reduction="sum"), "log_target", rtol=1e-10)


def test_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="batchmean"):
        impl.loss("kl_div", np.zeros(3), np.ones(3), reduction="mean")


def test_integer_arrays_refused():
    with pytest.raises(TypeError, match="target"):
        impl.loss("kl_div", np.zeros(3), np.ones(3, dtype=np.int64), reduction="sum")


def test_batchmean_of_0d_input_is_the_sum():
    assert_close(impl.loss("kl_div", np.array(1.0), np.array(2.0), reduction="batchmean"), 2 * (np.log(2) - 1),
                 "0-d batchmean")


def test_subnormal_target_gradient_is_exact():
    # d/dy [y log y - y x] = log y + 1 - x, also for the smallest subnormal y (torch underflows to log y - x)
    y = np.array([5e-324, 2.5e-310])
    _, g = impl.value_and_grad("kl_div", np.zeros(2), y, reduction="sum")
    assert_close(g["target"], np.log(y) + 1, "subnormal targets")


def test_invalid_reduction_names_batchmean():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="batchmean"):
            impl.loss("kl_div", np.zeros(3), np.ones(3), reduction="avg")
