"""margin_ranking_loss: l = max(0, -y (x1 - x2) + margin); all three arrays differentiable, same ndim."""
import numpy as np
import pytest
from hypothesis import strategies as st

import spec.reference.elementwise as ref
from spec import strategies as S
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties


def draw_args(dtype, away_from_kink=False):
    @st.composite
    def _draw(draw):
        shape = draw(S.shapes(min_dims=1))
        shapes = [tuple(1 if draw(st.booleans()) else d for d in shape) for _ in range(2)] + [shape]
        order = draw(st.permutations([0, 1, 2]))
        x1, x2 = (draw(S.arrays(shapes[order[i]], dtype, -3, 3)) for i in range(2))
        y = np.asarray(draw(S.arrays(shapes[order[2]], np.float64, 0, 1)).round() * 2 - 1).astype(dtype)
        margin = draw(st.sampled_from([0.0, 0.3, 1.0]))
        if away_from_kink:
            v = -y * (x1.astype(np.float64) - x2) + margin
            x1 = np.where(np.abs(v) < 0.01, x1 - 0.05 * y, x1).astype(dtype)
        return (x1, x2, y), {"margin": margin}
    return _draw()


SPEC = LossSpec("margin_ranking_loss", reference=ref.margin_ranking_loss, draw_args=draw_args,
                fd_args=lambda dtype: draw_args(dtype, away_from_kink=True),
                differentiable=("input1", "input2", "target"))
globals().update(standard_properties(SPEC))


def test_value_and_gradient():
    x1, x2, y = np.array([1.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    # -y (x1 - x2) + 0.5: -0.5 -> 0, 1.5, 0.5
    out, g = impl.value_and_grad("margin_ranking_loss", x1, x2, y, margin=0.5, reduction="none")
    assert_close(out, [0.0, 1.5, 0.5], "margin ranking values")
    assert_close(g["input1"], [0.0, -1.0, 1.0], "d/dx1")
    assert_close(g["input2"], [0.0, 1.0, -1.0], "d/dx2")
    assert_close(g["target"], [0.0, 1.0, 0.0], "d/dy")


def test_gradient_passes_at_zero():
    _, g = impl.value_and_grad("margin_ranking_loss", np.array([1.0]), np.array([0.0]), np.array([1.0]), margin=1.0,
                               reduction="sum")
    assert g["input1"][0] == -1.0


def test_different_ndim_refused():
    with pytest.raises(ValueError, match="dimensions"):
        impl.loss("margin_ranking_loss", np.zeros((2, 3)), np.zeros(3), np.ones(3))


def test_bool_target_refused():
    with pytest.raises(TypeError, match="target"):
        impl.loss("margin_ranking_loss", np.zeros(3), np.zeros(3), np.ones(3, dtype=bool))


def test_nan_propagates():
    out = impl.loss("margin_ranking_loss", np.array([np.nan, 0.0]), np.zeros(2), np.ones(2), margin=1.0,
                    reduction="none")
    assert np.isnan(out[0]) and out[1] == 1.0
