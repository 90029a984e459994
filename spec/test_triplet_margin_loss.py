"""triplet_margin_loss: max(0, margin + ||a - p + eps||_p - ||a - n + eps||_p), swap with ||p - n + eps||_p."""
import numpy as np
import pytest

import spec.reference.embedding as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.margin_embedding_strategies import triplet_args, triplet_term_scale, triplet_torch_args
from spec.properties import LossSpec, standard_properties

SPEC = LossSpec("triplet_margin_loss", reference=ref.triplet_margin_loss, draw_args=triplet_args(),
                fd_args=triplet_args(kink_free=True), torch_args=triplet_torch_args(), loss_scale=triplet_term_scale,
                differentiable=("anchor", "positive", "negative"))
globals().update(standard_properties(SPEC))

A = np.array([[0.0, 0.0]])
P = np.array([[1.0, 0.0]])
N = np.array([[0.0, 2.0]])


def test_eps_is_added_to_the_difference():
    # d(a, p) = ||(-1 + e, e)||, d(a, n) = ||(e, -2 + e)|| with e = 0.1
    e = 0.1
    expected = 1.0 + np.hypot(-1 + e, e) - np.hypot(e, -2 + e)
    assert_close(impl.loss("triplet_margin_loss", A, P, N, eps=e, reduction="none"), [expected], "eps")


def test_swap_uses_the_closer_negative():
    p = np.array([[0.0, 1.5]])   # d(p, n) = 0.5 < d(a, n) = 2
    plain = impl.loss("triplet_margin_loss", A, p, N, eps=0.0)
    swapped = impl.loss("triplet_margin_loss", A, p, N, eps=0.0, swap=True)
    assert_close(plain, 1.0 + 1.5 - 2.0, "no swap")
    assert_close(swapped, 1.0 + 1.5 - 0.5, "swap")


def test_swap_tie_splits_the_gradient():
    # d(a, n) == d(p, n) == 1: torch's min backward splits the gradient evenly between them
    a, p, n = np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[1.0, 0.0]])
    loss, g = impl.value_and_grad("triplet_margin_loss", a, p, n, eps=0.0, swap=True)
    assert_close(loss, 2.0, "tie value")
    assert_close(g["anchor"], [[-0.5, 0.0]], "tie anchor")
    assert_close(g["positive"], [[0.5, 0.0]], "tie positive")
    assert_close(g["negative"], [[0.0, 0.0]], "tie negative")


def test_gradient_passes_at_zero():
    # margin + d(a, p) - d(a, n) == 0 exactly: clamp_min passes the gradient
    loss, g = impl.value_and_grad("triplet_margin_loss", A, P, N, margin=1.0, eps=0.0)
    assert loss == 0.0
    assert_close(g["anchor"], [[-1.0, 1.0]], "gradient at 0")


def test_inactive_triplet_has_zero_gradient():
    loss, g = impl.value_and_grad("triplet_margin_loss", A, P, N * 5, eps=0.0)
    assert loss == 0.0 and not any(v.any() for v in g.values())


@pytest.mark.parametrize("p,expected", [(1, 3.0), (np.inf, 2.0), (0, 2.0), (0.5, (1 + np.sqrt(2)) ** 2),
                                        (3, 9 ** (1 / 3))])
def test_norm_orders(p, expected):
    a, n = np.array([1.0, 2.0]), np.array([0.0, 0.0])
    # margin 10 + d(a, a) (0, or eps-free 0) - d(a, n) with a - n = (1, 2)
    out = impl.loss("triplet_margin_loss", a, a, n, margin=10.0, p=p, eps=0.0, reduction="none")
    assert_close(out, 10.0 - expected, f"p={p}")


def test_zero_distance_gradient_is_zero():
    # a == p with eps = 0: the norm's gradient is masked to 0 at 0 (torch's norm_backward)
    _, g = impl.value_and_grad("triplet_margin_loss", A, A, N, eps=0.0, margin=3.0)
    assert_close(g["positive"], [[0.0, 0.0]], "zero distance")


def test_unbatched_and_k_dim():
    out = impl.loss("triplet_margin_loss", A[0], P[0], N[0], reduction="none")
    assert np.shape(out) == ()
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 5))
    out = impl.loss("triplet_margin_loss", *x, reduction="none")
    expected, _ = ref.triplet_margin_loss(*x, reduction="none")
    assert_close(out, expected, "K-dim")


def test_broadcast_negative():
    x = np.random.default_rng(1).standard_normal((3, 4, 5))
    loss, g = impl.value_and_grad("triplet_margin_loss", x[0], x[1], x[2][:1], margin=3.0)
    rl, rg = ref.triplet_margin_loss(x[0], x[1], x[2][:1], margin=3.0)
    assert_close(loss, rl, "broadcast")
    assert g["negative"].shape == (1, 5)
    assert_close(g["negative"], rg["negative"], "broadcast gradient")


@pytest.mark.parametrize("margin", [0.0, -1.0])
def test_non_positive_margin_refused(margin):
    with pytest.raises(ValueError, match="margin"):
        impl.loss("triplet_margin_loss", A, P, N, margin=margin)


def test_different_ndim_refused():
    with pytest.raises(ValueError, match="dimensions"):
        impl.loss("triplet_margin_loss", A, P, N[0])


def test_incompatible_shapes_refused():
    with pytest.raises(ValueError, match="broadcast"):
        impl.loss("triplet_margin_loss", A, P, np.zeros((1, 3)))


@pytest.mark.torch
@pytest.mark.parametrize("p", [2.0, 1.0, np.inf, 0.5, 3.0, 0.0, -1.0])
@pytest.mark.parametrize("swap", [False, True])
def test_norm_orders_match_torch(p, swap):
    import torch
    import torch.nn.functional as F

    x = np.random.default_rng(2).standard_normal((3, 6, 4))
    ts = [torch.tensor(v, requires_grad=True) for v in x]
    out = F.triplet_margin_loss(*ts, margin=2.0, p=p, swap=swap, reduction="sum")
    grads = torch.autograd.grad(out, ts, allow_unused=True)
    loss, g = impl.value_and_grad("triplet_margin_loss", *x, margin=2.0, p=p, swap=swap, reduction="sum")
    assert_close(loss, out.item(), f"p={p} swap={swap} vs torch")
    for name, tg in zip(("anchor", "positive", "negative"), grads):
        assert_close(g[name], np.zeros_like(x[0]) if tg is None else tg.numpy(), f"grad {name} p={p} vs torch")


@pytest.mark.parametrize("margin, error", [(1 + 0j, TypeError), (0.0, ValueError), (-1.0, ValueError)])
def test_module_checks_the_margin_when_constructed(margin, error):
    # torch's TripletMarginLoss compares margin <= 0 in its constructor: a complex margin is a TypeError there
    with pytest.raises(error):
        impl.module("TripletMarginLoss", margin=margin)
