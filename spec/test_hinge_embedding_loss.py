"""hinge_embedding_loss: l = x where y = 1, max(0, margin - x) where y = -1 (other targets: both terms)."""
import numpy as np
from hypothesis import strategies as st

import spec.reference.elementwise as ref
from spec import strategies as S
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties


def draw_args(dtype, away_from_kink=False):
    @st.composite
    def _draw(draw):
        shape = draw(S.shapes())
        tshape = draw(S.broadcastable_to(shape)) if draw(st.booleans()) else shape
        margin = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
        x = draw(S.arrays(shape, dtype, -3, 3))
        if away_from_kink:
            x = np.where(np.abs(margin - x) < 0.01, x + 0.05, x).astype(dtype)
        y = np.asarray(draw(S.arrays(tshape, np.float64, 0, 1)).round() * 2 - 1)
        return (x, y.astype(dtype)), {"margin": margin}
    return _draw()


SPEC = LossSpec("hinge_embedding_loss", reference=ref.hinge_embedding_loss, draw_args=draw_args,
                fd_args=lambda dtype: draw_args(dtype, away_from_kink=True), differentiable=("input",))
globals().update(standard_properties(SPEC))


def test_values_per_target():
    x = np.array([0.3, 0.3, 2.0, 0.3])
    y = np.array([1.0, -1.0, -1.0, 0.0])
    # y = 1: x; y = -1: max(0, 1 - x); y = 0 (neither): both terms, as torch computes
    assert_close(impl.loss("hinge_embedding_loss", x, y, reduction="none"), [0.3, 0.7, 0.0, 1.0], "hinge values")
    _, g = impl.value_and_grad("hinge_embedding_loss", x, y, reduction="sum")
    assert_close(g["input"], [1.0, -1.0, 0.0, 0.0], "hinge gradient")


def test_gradient_at_margin_passes():
    # torch's clamp_min passes the gradient where margin - x >= 0, so at x = margin it is -1
    _, g = impl.value_and_grad("hinge_embedding_loss", np.array([1.5]), np.array([-1.0]), margin=1.5, reduction="sum")
    assert g["input"][0] == -1.0


def test_integer_target_accepted():
    out = impl.loss("hinge_embedding_loss", np.array([0.5, 0.5]), np.array([1, -1]), reduction="sum")
    assert_close(out, 1.0, "integer target")


def test_nan_propagates():
    out = impl.loss("hinge_embedding_loss", np.array([np.nan, 0.5]), np.array([-1.0, 1.0]), reduction="none")
    assert np.isnan(out[0]) and out[1] == 0.5
