"""multilabel_soft_margin_loss: mean over the class (last) dim of
w * -(y log sigmoid(x) + (1 - y) log sigmoid(-x)), then reduced over the batch."""
import numpy as np
import pytest

import spec.reference.classification as ref
from spec.classification_strategies import multilabel_args
from spec.helpers import assert_close
from spec.impl import impl
from spec.properties import LossSpec, standard_properties

SPEC = LossSpec("multilabel_soft_margin_loss", reference=ref.multilabel_soft_margin_loss, draw_args=multilabel_args(),
                differentiable=("input", "target"))
globals().update(standard_properties(SPEC))

X = np.array([[0.5, -1.0, 2.0], [0.0, 3.0, -0.5]])
Y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])


def _softplus(v):
    return np.logaddexp(0.0, v)


def test_value_averages_over_classes_then_batch():
    per = (Y * _softplus(-X) + (1 - Y) * _softplus(X)).mean(axis=1)
    assert_close(impl.loss("multilabel_soft_margin_loss", X, Y, reduction="none"), per, "none: one value per sample")
    assert_close(impl.loss("multilabel_soft_margin_loss", X, Y), per.mean(), "mean")
    assert_close(impl.loss("multilabel_soft_margin_loss", X, Y, reduction="sum"), per.sum(), "sum")


def test_weight_multiplies_each_class_before_the_class_mean():
    w = np.array([1.0, 0.0, 3.0])
    per = (w * (Y * _softplus(-X) + (1 - Y) * _softplus(X))).sum(axis=1) / 3
    assert_close(impl.loss("multilabel_soft_margin_loss", X, Y, weight=w, reduction="none"), per, "weighted")


def test_unbatched_input_gives_0d_loss():
    out = impl.loss("multilabel_soft_margin_loss", X[0], Y[0], reduction="none")
    assert out.shape == ()


def test_3d_input_reduces_only_the_last_dim():
    x = np.zeros((2, 3, 4))
    out = impl.loss("multilabel_soft_margin_loss", x, np.ones((2, 3, 4)), reduction="none")
    assert out.shape == (2, 3)
    assert_close(out, np.full((2, 3), np.log(2.0)), "log 2 at x = 0")


def test_target_broadcasting_the_input_up_follows_torch_class_dim():
    # torch sums over dim input.dim() - 1 = 0 of the broadcast (2, 3) loss and divides by C = 3
    x, y = X[0], Y
    expected, _ = ref.multilabel_soft_margin_loss(x, y, reduction="none")
    out = impl.loss("multilabel_soft_margin_loss", x, y, reduction="none")
    assert out.shape == (3,)
    assert_close(out, expected, "broadcast up")


def test_extreme_logits_are_finite():
    x = np.array([[-200.0, 200.0]])
    out = impl.loss("multilabel_soft_margin_loss", x, np.array([[0.0, 1.0]]))
    assert_close(out, 0.0, "saturated, correct labels", rtol=0, atol=1e-12)
    loss, g = impl.value_and_grad("multilabel_soft_margin_loss", x, np.array([[1.0, 0.0]]))
    assert_close(loss, 200.0, "saturated, wrong labels: (200 + 200) / 2")
    assert np.all(np.isfinite(g["input"]))


def test_integer_target_accepted():
    assert_close(impl.loss("multilabel_soft_margin_loss", X, Y.astype(np.int64)),
                 impl.loss("multilabel_soft_margin_loss", X, Y), "integer target")


def test_target_gradient_is_minus_x_over_c():
    _, g = impl.value_and_grad("multilabel_soft_margin_loss", X, Y, reduction="sum")
    assert_close(g["target"], -X / 3, "d/dy")


def test_shape_mismatch_refused():
    with pytest.raises(ValueError):
        impl.loss("multilabel_soft_margin_loss", X, np.ones((2, 4)))


def test_0d_input_refused():
    with pytest.raises((ValueError, IndexError)):
        impl.loss("multilabel_soft_margin_loss", np.array(1.0), np.array(1.0))
