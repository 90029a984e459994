"""PairwiseDistance (fastloss.nn): ||x1 - x2 + eps||_p over the last dimension, with its gradient."""
import numpy as np
import pytest

import fastloss
import spec.reference.embedding as ref
from spec.helpers import assert_close, central_difference

RNG = np.random.default_rng(0)
X1, X2 = RNG.standard_normal((2, 4, 3))
P_VALUES = [2.0, 1.0, 3.0, 1.5, 0.5, np.inf, -np.inf, 0.0]


@pytest.mark.parametrize("p", P_VALUES)
def test_value_and_gradient_match_reference(p):
    d = fastloss.nn.PairwiseDistance(p=p)
    go = RNG.standard_normal(4)
    value, vjp = d.value_and_vjp(X1, X2)
    g1, g2 = vjp(go)
    rv, rg = ref.pairwise_distance(X1, X2, p=p, grad_output=go)
    assert_close(value, rv, f"p={p}")
    assert_close(d(X1, X2), rv, f"__call__ p={p}")
    assert_close(g1, rg["x1"], f"grad x1 p={p}")
    assert_close(g2, rg["x2"], f"grad x2 p={p}")


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 1.5])
def test_gradient_matches_finite_differences(p):
    d = fastloss.nn.PairwiseDistance(p=p)
    _, vjp = d.value_and_vjp(X1, X2)
    g1, _ = vjp(np.ones(4))
    fd = central_difference(lambda v: float(np.sum(d(v, X2))), X1)
    assert_close(g1, fd, f"fd p={p}", rtol=1e-6, atol=1e-6)


def test_shapes():
    d = fastloss.nn.PairwiseDistance()
    assert d(X1, X2).shape == (4,)
    assert fastloss.nn.PairwiseDistance(keepdim=True)(X1, X2).shape == (4, 1)
    assert np.shape(d(X1[0], X2[0])) == ()
    assert d(X1[0], X2).shape == (4,)          # broadcast
    assert np.shape(d(np.array(1.0), np.array(3.0))) == ()
    assert_close(d(np.array(1.0), np.array(3.0)), 2.0 - 1e-6, "0-d")
    assert d(X1.astype(np.float32), X2.astype(np.float32)).dtype == np.float32


def test_eps_is_added_to_the_difference():
    out = fastloss.nn.PairwiseDistance(p=1.0, eps=0.5)(np.array([[1.0, -1.0]]), np.zeros((1, 2)))
    assert_close(out, [1.5 + 0.5], "eps added before the norm")


def test_zero_distance_has_zero_gradient():
    _, vjp = fastloss.nn.PairwiseDistance(eps=0.0).value_and_vjp(X1, X1)
    g1, g2 = vjp(np.ones(4))
    assert not g1.any() and not g2.any()


def test_exported_from_nn():
    assert "PairwiseDistance" in fastloss.nn.__all__ and "CosineDistance" in fastloss.nn.__all__
    assert isinstance(fastloss.nn.PairwiseDistance(), fastloss.nn.Distance)


@pytest.mark.torch
@pytest.mark.parametrize("p", P_VALUES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(p, dtype):
    import torch

    x1, x2 = X1.astype(dtype), X2.astype(dtype)
    x1[0] = x2[0]   # a zero difference row (then only eps)
    t1, t2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    out = torch.nn.PairwiseDistance(p=p)(t1, t2)
    go = torch.tensor(RNG.standard_normal(4)).to(out.dtype)
    grads = torch.autograd.grad(out, (t1, t2), go, allow_unused=True)
    value, vjp = fastloss.nn.PairwiseDistance(p=p).value_and_vjp(x1, x2)
    g1, g2 = vjp(go.numpy())
    tol = dict(rtol=1e-11, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    assert value.dtype == dtype
    assert_close(value, out.detach().numpy(), f"p={p}", **tol)
    for ours, theirs in ((g1, grads[0]), (g2, grads[1])):
        assert_close(ours, np.zeros_like(x1) if theirs is None else theirs.numpy(), f"grad p={p}", **tol)
