"""triplet_margin_with_distance_loss: max(0, margin + d(a, p) - d_neg) with a distance function
(default: pairwise_distance, p = 2, eps = 1e-6)."""
import numpy as np
import pytest

import fastloss
import spec.reference.embedding as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.margin_embedding_strategies import triplet_args, triplet_term_scale, triplet_torch_args
from spec.properties import LossSpec, standard_properties

SPEC = LossSpec("triplet_margin_with_distance_loss", reference=ref.triplet_margin_with_distance_loss,
                draw_args=triplet_args(with_distance=True), fd_args=triplet_args(kink_free=True, with_distance=True),
                torch_args=triplet_torch_args(with_distance=True), loss_scale=triplet_term_scale,
                differentiable=("anchor", "positive", "negative"), legacy=False)
globals().update(standard_properties(SPEC))

X = np.random.default_rng(0).standard_normal((3, 5, 4))


def test_default_is_triplet_margin_loss():
    assert_close(impl.loss("triplet_margin_with_distance_loss", *X, margin=2.0, swap=True, reduction="none"),
                 impl.loss("triplet_margin_loss", *X, margin=2.0, swap=True, reduction="none"), "default distance")


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, np.inf])
def test_pairwise_distance_object(p):
    d = fastloss.nn.PairwiseDistance(p=p, eps=0.01)
    loss, g = fastloss.value_and_grad("triplet_margin_with_distance_loss", *X, distance_function=d, margin=2.0,
                                      swap=True, reduction="sum")
    rl, rg = ref.triplet_margin_with_distance_loss(*X, distance_function=(p, 0.01), margin=2.0, swap=True,
                                                   reduction="sum")
    assert_close(loss, rl, f"PairwiseDistance(p={p})")
    for k in rg:
        assert_close(g[k], rg[k], f"grad {k} PairwiseDistance(p={p})")


def test_plain_callable_forward():
    def manhattan(x1, x2):
        return np.abs(x1 - x2).sum(-1)

    out = fastloss.triplet_margin_with_distance_loss(*X, distance_function=manhattan, margin=3.0, reduction="none")
    expected = np.maximum(3.0 + manhattan(X[0], X[1]) - manhattan(X[0], X[2]), 0)
    assert_close(out, expected, "plain callable")


def test_plain_callable_gradient_refused_with_instructions():
    with pytest.raises(TypeError, match="value_and_vjp"):
        fastloss.value_and_grad("triplet_margin_with_distance_loss", *X,
                                distance_function=lambda a, b: np.abs(a - b).sum(-1))


def test_custom_distance_protocol():
    class SquaredEuclidean(fastloss.nn.Distance):
        def value_and_vjp(self, x1, x2):
            diff = x1 - x2
            return (diff ** 2).sum(-1), lambda g: (2 * diff * g[..., None], -2 * diff * g[..., None])

    loss, g = fastloss.value_and_grad("triplet_margin_with_distance_loss", *X, distance_function=SquaredEuclidean(),
                                      margin=5.0, reduction="sum")
    d_ap, d_an = ((X[0] - X[1]) ** 2).sum(-1), ((X[0] - X[2]) ** 2).sum(-1)
    active = (5.0 + d_ap - d_an >= 0)[:, None]
    assert_close(loss, np.maximum(5.0 + d_ap - d_an, 0).sum(), "custom distance")
    assert_close(g["anchor"], active * (2 * (X[0] - X[1]) - 2 * (X[0] - X[2])), "custom distance grad")


def test_cosine_distance():
    d = fastloss.nn.CosineDistance()
    out = fastloss.triplet_margin_with_distance_loss(*X, distance_function=d, reduction="none")
    cos = lambda u, v: (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))  # noqa: E731
    assert_close(out, np.maximum(1.0 + (1 - cos(X[0], X[1])) - (1 - cos(X[0], X[2])), 0), "cosine distance")


def test_swap_tie_splits_the_gradient():
    a, p, n = np.array([[0.0, 0.0]]), np.array([[2.0, 0.0]]), np.array([[1.0, 0.0]])
    d = fastloss.nn.PairwiseDistance(eps=0.0)
    _, g = fastloss.value_and_grad("triplet_margin_with_distance_loss", a, p, n, distance_function=d, swap=True)
    assert_close(g["anchor"], [[-0.5, 0.0]], "tie")


@pytest.mark.parametrize("margin", [0.0, -1.0])
def test_non_positive_margin_refused(margin):
    with pytest.raises(ValueError, match="margin"):
        impl.loss("triplet_margin_with_distance_loss", *X, margin=margin)


def test_different_ndim_refused():
    with pytest.raises(ValueError, match="dimensions"):
        impl.loss("triplet_margin_with_distance_loss", X[0], X[1], X[2][0])


def test_non_callable_distance_refused():
    with pytest.raises(TypeError, match="distance_function"):
        fastloss.triplet_margin_with_distance_loss(*X, distance_function=3)


@pytest.mark.torch
@pytest.mark.parametrize("swap", [False, True])
def test_distances_match_torch(swap):
    import torch
    import torch.nn.functional as F

    cases = [(fastloss.nn.PairwiseDistance(p=1.0), torch.nn.PairwiseDistance(p=1.0)),
             (fastloss.nn.PairwiseDistance(keepdim=True), torch.nn.PairwiseDistance(keepdim=True)),
             (fastloss.nn.CosineDistance(), lambda u, v: 1 - F.cosine_similarity(u, v))]
    x = X.copy()
    x[1, 0] = 0.0   # a zero vector for the cosine distance
    for ours, theirs in cases:
        ts = [torch.tensor(v, requires_grad=True) for v in x]
        out = F.triplet_margin_with_distance_loss(*ts, distance_function=theirs, margin=1.5, swap=swap)
        grads = torch.autograd.grad(out, ts)
        loss, g = fastloss.value_and_grad("triplet_margin_with_distance_loss", *x, distance_function=ours,
                                          margin=1.5, swap=swap)
        assert_close(loss, out.item(), f"{ours!r} vs torch")
        for name, tg in zip(("anchor", "positive", "negative"), grads):
            assert_close(g[name], tg.numpy(), f"grad {name} {ours!r} vs torch", rtol=1e-10)


@pytest.mark.parametrize("margin, error", [(1 + 0j, TypeError), (0.0, ValueError), (-1.0, ValueError)])
def test_module_checks_the_margin_when_constructed(margin, error):
    # torch's TripletMarginWithDistanceLoss compares margin <= 0 in its constructor
    with pytest.raises(error):
        impl.module("TripletMarginWithDistanceLoss", margin=margin)
