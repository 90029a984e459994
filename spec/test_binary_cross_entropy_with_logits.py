"""binary_cross_entropy_with_logits: l = -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], stable."""
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
        x = draw(S.arrays(shape, dtype, -10, 10))
        y = draw(S.arrays(shape, dtype, 0, 1))
        kwargs = {}
        if draw(st.booleans()):
            kwargs["weight"] = draw(S.arrays(draw(S.broadcastable_to(shape)), dtype, 0, 2))
        if draw(st.booleans()):
            kwargs["pos_weight"] = draw(S.arrays(draw(S.broadcastable_to(shape)), dtype, 0, 3))
        return (x, y), kwargs
    return _draw()


SPEC = LossSpec("binary_cross_entropy_with_logits", reference=ref.binary_cross_entropy_with_logits,
                draw_args=draw_args, differentiable=("input", "target"))
globals().update(standard_properties(SPEC))


def test_stable_for_large_logits():
    x = np.array([200.0, -200.0, 200.0, -200.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    out, g = impl.value_and_grad("binary_cross_entropy_with_logits", x, y, reduction="none")
    assert_close(out, [0.0, 0.0, 200.0, 200.0], "bce_with_logits far from 0")
    assert_close(g["input"], [0.0, 0.0, 1.0, -1.0], "its gradient sigmoid(x) - y")
    x32 = x.astype(np.float32)
    out32 = impl.loss("binary_cross_entropy_with_logits", x32, y.astype(np.float32), reduction="none")
    assert np.all(np.isfinite(out32))


def test_pos_weight_along_classes():
    x, y = np.zeros((2, 3)), np.ones((2, 3))
    out = impl.loss("binary_cross_entropy_with_logits", x, y, pos_weight=np.array([1.0, 2.0, 3.0]), reduction="none")
    assert_close(out, np.log(2.0) * np.array([[1.0, 2.0, 3.0]] * 2), "pos_weight scales the positive term")


def test_target_of_another_size_refused():
    with pytest.raises(ValueError, match="target"):
        impl.loss("binary_cross_entropy_with_logits", np.zeros((2, 3)), np.ones(3))


@pytest.mark.parametrize("name", ["weight", "pos_weight"])
def test_weights_that_enlarge_refused(name):
    with pytest.raises(ValueError, match=name):
        impl.loss("binary_cross_entropy_with_logits", np.zeros(3), np.ones(3), **{name: np.ones((2, 3))})


def test_integer_target_refused():
    with pytest.raises(TypeError, match="target"):
        impl.loss("binary_cross_entropy_with_logits", np.zeros(3), np.ones(3, dtype=np.int64))


def test_nan_propagates():
    out = impl.loss("binary_cross_entropy_with_logits", np.array([np.nan, 0.0]), np.ones(2), reduction="none")
    assert np.isnan(out[0]) and np.isclose(out[1], np.log(2))
