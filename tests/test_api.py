"""The public surface of API.md: names, signatures (as torch's), modules, re-exports."""
import inspect

import numpy as np
import pytest

import fastloss as fl
import fastloss.nn as fnn

LOSSES = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
          "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss",
          "gaussian_nll_loss", "hinge_embedding_loss", "multilabel_margin_loss", "soft_margin_loss",
          "multilabel_soft_margin_loss", "cosine_embedding_loss", "margin_ranking_loss", "multi_margin_loss",
          "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]
MODULES = ["L1Loss", "NLLLoss", "NLLLoss2d", "PoissonNLLLoss", "GaussianNLLLoss", "KLDivLoss", "MSELoss", "BCELoss",
           "BCEWithLogitsLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss", "SmoothL1Loss", "HuberLoss",
           "SoftMarginLoss", "CrossEntropyLoss", "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss",
           "MarginRankingLoss", "MultiMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss", "CTCLoss"]


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_is_exported_and_differentiable(name):
    fn = getattr(fl, name)
    assert fn is getattr(fl.functional, name) and name in fl.functional.__all__
    assert fn.differentiable, f"{name} declares no differentiable argument"


def _parameters(sig):
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.torch
@pytest.mark.parametrize("name", LOSSES)
def test_signature_matches_torch(name):
    import torch.nn.functional as F

    ours = inspect.signature(getattr(fl, name))
    theirs = inspect.signature(getattr(F, name))
    assert [(n, k) for n, k, _ in _parameters(ours)] == [(n, k) for n, k, _ in _parameters(theirs)]
    for (n, _, d1), (_, _, d2) in zip(_parameters(ours), _parameters(theirs)):
        assert d1 == d2, f"{name}: default of {n} is {d1!r}, torch's is {d2!r}"


@pytest.mark.parametrize("name", MODULES)
def test_every_module_class_exists(name):
    assert name in fnn.__all__ and isinstance(getattr(fnn, name), type)


@pytest.mark.torch
@pytest.mark.parametrize("name", MODULES)
def test_module_constructor_matches_torch(name):
    import torch.nn as tnn

    ours = inspect.signature(getattr(fnn, name).__init__)
    theirs = inspect.signature(getattr(tnn, name).__init__)
    assert [(n, k, d) for n, k, d in _parameters(ours)] == [(n, k, d) for n, k, d in _parameters(theirs)]


@pytest.mark.torch
def test_module_list_covers_torch_except_linear_cross_entropy():
    import torch.nn.modules.loss as L

    assert set(L.__all__) - {"LinearCrossEntropyLoss"} <= set(MODULES)


def test_module_forward_and_backward_match_functional():
    crit = fnn.MSELoss(reduction="sum")
    x, y = np.array([1.0, 2.0]), np.array([0.0, 0.0])
    assert float(crit(x, y)) == float(fl.mse_loss(x, y, reduction="sum")) == 5.0
    np.testing.assert_allclose(crit.backward()["input"], [2.0, 4.0])
    np.testing.assert_allclose(crit.backward(grad_output=0.5)["input"], [1.0, 2.0])


def test_module_backward_before_forward_refused():
    with pytest.raises(RuntimeError, match="before a forward"):
        fnn.L1Loss().backward()


def test_module_legacy_arguments():
    with pytest.warns(UserWarning):
        assert fnn.L1Loss(size_average=False).reduction == "sum"


def test_nllloss2d_is_deprecated():
    with pytest.warns(DeprecationWarning):
        crit = fnn.NLLLoss2d()
    assert isinstance(crit, fnn.NLLLoss)


def test_gpu_arrays_are_routed_to_the_gpu_backend():
    from fastloss import _backend

    class FakeCupyArray:  # stands in for cupy.ndarray where CuPy is absent
        dtype = np.dtype(np.float32)

    import sys
    import types

    fake = types.ModuleType("cupy")
    fake.ndarray = FakeCupyArray
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = fake
    try:
        assert _backend.array_module(FakeCupyArray()) is fake
        with pytest.raises(TypeError, match="different devices"):
            _backend.check_same_backend({"input": FakeCupyArray(), "target": np.zeros(1)})
    finally:
        if saved is None:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = saved
