"""cosine_embedding_loss: 1 - cos (y = 1), max(0, cos - margin) (y = -1), 0 otherwise."""
import numpy as np
import pytest

import spec.reference.embedding as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.margin_embedding_strategies import cosine_embedding_args
from spec.properties import LossSpec, standard_properties

SPEC = LossSpec("cosine_embedding_loss", reference=ref.cosine_embedding_loss, draw_args=cosine_embedding_args(),
                fd_args=cosine_embedding_args(kink_free=True), differentiable=("input1", "input2"))
globals().update(standard_properties(SPEC))

A = np.array([[1.0, 0.0], [1.0, 1.0], [3.0, 4.0]])
B = np.array([[0.0, 1.0], [1.0, 1.0], [-3.0, -4.0]])


def test_values():
    out = impl.loss("cosine_embedding_loss", A, B, np.array([1, 1, -1]), reduction="none")
    # cos = 0, 1, -1 (up to the 1e-12 epsilon)
    assert_close(out, [1.0, 0.0, 0.0], "cos values", atol=1e-10)
    out = impl.loss("cosine_embedding_loss", A, B, np.array([-1, -1, 1]), margin=-0.5, reduction="none")
    assert_close(out, [0.5, 1.5, 2.0], "margin", atol=1e-10)


def test_other_target_values_give_zero():
    out = impl.loss("cosine_embedding_loss", A, B, np.array([0, 2, -3]), reduction="none")
    assert (out == 0).all()
    _, g = impl.value_and_grad("cosine_embedding_loss", A, B, np.array([0, 2, -3]))
    assert not g["input1"].any() and not g["input2"].any()


def test_float_target():
    assert_close(impl.loss("cosine_embedding_loss", A, B, np.array([1.0, 1.0, -1.0])),
                 impl.loss("cosine_embedding_loss", A, B, np.array([1, 1, -1])), "float target")


def test_zero_vector_is_finite():
    # cos = 0 (not nan): loss 1 for y = 1; torch's gradient x2 / sqrt(eps |x2|^2) is large but finite
    x1 = np.zeros((2, 3))
    x2 = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    loss, g = impl.value_and_grad("cosine_embedding_loss", x1, x2, np.array([1, -1]), margin=-0.5, reduction="none")
    assert_close(loss, [1.0, 0.5], "zero vectors")
    assert np.isfinite(g["input1"]).all() and np.isfinite(g["input2"]).all()
    eps = float(np.float32(1e-12))
    assert_close(g["input1"][0], -x2[0] / np.sqrt(eps * (14 + eps)), "zero vector gradient")
    assert not g["input2"][0].any() and not g["input1"][1].any()


def test_gradient_passes_at_the_margin():
    # cos - margin == 0 exactly: torch's clamp_min passes the gradient there
    _, g = impl.value_and_grad("cosine_embedding_loss", np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]),
                               np.array([-1]), margin=0.0)
    assert_close(g["input1"], [[0.0, 1.0]], "gradient at cos == margin", atol=1e-10)


def test_unbatched():
    out = impl.loss("cosine_embedding_loss", A[0], B[1], np.array(1), reduction="none")
    assert np.shape(out) == ()
    assert_close(out, 1 - 1 / np.sqrt(2), "unbatched", rtol=1e-10)


def test_broadcast_inputs():
    out = impl.loss("cosine_embedding_loss", A, B[1:2], np.array([1, 1, 1]), reduction="none")
    assert_close(out, [1 - 1 / np.sqrt(2), 0.0, 1 - 7 / (5 * np.sqrt(2))], "broadcast", atol=1e-10)
    _, g = impl.value_and_grad("cosine_embedding_loss", A, B[1:2], np.array([1, 1, 1]))
    assert g["input2"].shape == (1, 2)


def test_empty_rows():
    out = impl.loss("cosine_embedding_loss", np.zeros((2, 0)), np.zeros((2, 0)), np.array([1, -1]), reduction="none")
    assert_close(out, [1.0, 0.0], "D = 0")


def test_two_d_target_refused():
    with pytest.raises(ValueError, match="target"):
        impl.loss("cosine_embedding_loss", A, B, np.ones((3, 1)))


def test_target_rank_must_match_inputs():
    with pytest.raises(ValueError, match="target"):
        impl.loss("cosine_embedding_loss", A[0], B[0], np.array([1]))
    with pytest.raises(ValueError, match="target"):
        impl.loss("cosine_embedding_loss", A, B, np.array(1))
    with pytest.raises(ValueError, match="target"):
        impl.loss("cosine_embedding_loss", np.zeros((2, 3, 4)), np.zeros((2, 3, 4)), np.ones(3))


def test_incompatible_shapes_refused():
    with pytest.raises(ValueError, match="input"):
        impl.loss("cosine_embedding_loss", A, np.zeros((3, 5)), np.ones(3))
    with pytest.raises(ValueError, match="target"):
        impl.loss("cosine_embedding_loss", A, B, np.ones(2))


def test_integer_inputs_accepted_as_in_torch():
    # torch promotes integer (and bool) inputs: the same loss as their float values
    A_int = np.round(A * 4).astype(np.int64)
    out = impl.loss("cosine_embedding_loss", A_int, B, np.ones(3), reduction="none")
    assert_close(out, impl.loss("cosine_embedding_loss", A_int.astype(np.float64), B, np.ones(3), reduction="none"),
                 "integer input1 promoted")
    assert out.dtype == B.dtype


def test_string_input_refused():
    with pytest.raises(TypeError, match="input1"):
        impl.loss("cosine_embedding_loss", A.astype(str), B, np.ones(3))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_vectors_match_torch(dtype):
    import torch
    import torch.nn.functional as F

    x1 = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=dtype)
    x2 = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    y = np.array([1, -1, 1])
    t1, t2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    out = F.cosine_embedding_loss(t1, t2, torch.tensor(y), margin=-0.2, reduction="sum")
    out.backward()
    loss, g = impl.value_and_grad("cosine_embedding_loss", x1, x2, y, margin=-0.2, reduction="sum")
    assert_close(loss, out.item(), "zero vectors vs torch", dtype=dtype)
    assert_close(g["input1"], t1.grad.numpy(), "grad input1 vs torch", dtype=dtype)
    assert_close(g["input2"], t2.grad.numpy(), "grad input2 vs torch", dtype=dtype)
