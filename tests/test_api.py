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


# -- module calls by torch's forward argument names; backward reusing the forward's work (issue 8) --

@pytest.mark.torch
@pytest.mark.parametrize("name", MODULES)
def test_module_inputs_are_torchs_forward_arguments(name):
    import torch.nn as tnn

    theirs = [p for p in inspect.signature(getattr(tnn, name).forward).parameters if p != "self"]
    assert list(getattr(fnn, name).inputs) == theirs


def _module_examples():
    from fastloss.__main__ import examples

    for title, fn, args, kwargs, _ in examples(np.random.default_rng(0)):
        cls = getattr(fnn, title.split(" ")[0])
        init = inspect.signature(cls.__init__).parameters
        yield pytest.param(cls, fn, args, {k: v for k, v in kwargs.items() if k in init}, id=title)


@pytest.mark.parametrize("cls,fn,args,options", list(_module_examples()))
def test_module_called_by_keyword_gives_the_positional_result(cls, fn, args, options):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crit = cls(**options)
        by_name = crit(**dict(zip(cls.inputs, args)))
        grads_by_name = crit.backward()
        positional = cls(**options)(*args)
        mixed = cls(**options)(args[0], **dict(zip(cls.inputs[1:], args[1:])))
        expected, expected_grads = fl.value_and_grad(fn, *args, **options)
    np.testing.assert_array_equal(by_name, positional)
    np.testing.assert_array_equal(mixed, positional)
    np.testing.assert_array_equal(by_name, expected)
    assert grads_by_name.keys() == expected_grads.keys()
    for k in expected_grads:
        np.testing.assert_array_equal(grads_by_name[k], expected_grads[k])


def test_module_keyword_errors_name_the_inputs():
    crit = fnn.MSELoss()
    x = np.zeros(3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'inputs'.*input, target"):
        crit(inputs=x, target=x)
    with pytest.raises(TypeError, match="multiple values for argument 'input'"):
        crit(x, input=x, target=x)
    with pytest.raises(TypeError, match="missing required input.*target"):
        crit(input=x)
    assert float(fnn.PoissonNLLLoss()(log_input=np.zeros(2), target=np.ones(2))) == 1.0


class _Counter:
    """Counts the calls of fastloss.nn's value_and_grad and of the plain functional loss."""

    def __init__(self, monkeypatch, fn):
        import fastloss.nn as nn_module

        self.fused = self.plain = 0
        real_vag, real_fn = nn_module.value_and_grad, getattr(fl.functional, fn)

        def vag(*a, **k):
            self.fused += 1
            return real_vag(*a, **k)

        def plain(*a, **k):
            self.plain += 1
            return real_fn(*a, **k)

        monkeypatch.setattr(nn_module, "value_and_grad", vag)
        monkeypatch.setattr(fl.functional, fn, plain)


def test_training_step_costs_one_fused_call_and_evaluation_plain_calls(monkeypatch):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((8, 5)), rng.integers(0, 5, 8)
    count = _Counter(monkeypatch, "cross_entropy")
    crit = fnn.CrossEntropyLoss()
    crit(x, t)
    crit.backward()   # first step: a plain forward, then the fused call in backward
    assert (count.plain, count.fused) == (1, 1)
    for _ in range(3):  # steady state: one fused call per step, backward hands its gradients over
        loss = crit(x, t)
        grads = crit.backward()
    assert (count.plain, count.fused) == (1, 4)
    expected_loss, expected = fl.value_and_grad(fl.cross_entropy, x, t)
    np.testing.assert_array_equal(loss, expected_loss)
    np.testing.assert_array_equal(grads["input"], expected["input"])
    for _ in range(3):  # evaluation: the first call is still fused, then plain forward calls
        crit(x, t)
    assert (count.plain, count.fused) == (3, 5)


def test_gradients_kept_from_the_fused_call_ignore_later_mutation():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(6), rng.standard_normal(6)
    crit = fnn.MSELoss()
    crit(x, y)
    crit.backward()
    x0, y0 = x.copy(), y.copy()
    loss = crit(x, y)          # fused: gradients of the inputs as they are now
    x += 1.0                   # e.g. an optimiser step before backward()
    y[:] = 0.0
    grads = crit.backward()
    expected_loss, expected = fl.value_and_grad(fl.mse_loss, x0, y0)
    np.testing.assert_array_equal(loss, expected_loss)
    np.testing.assert_array_equal(grads["input"], expected["input"])
    np.testing.assert_array_equal(grads["target"], expected["target"])


def test_backward_after_a_plain_call_detects_mutated_inputs():
    x, t = np.random.default_rng(3).standard_normal((4, 3)), np.array([0, 1, 2, 1])
    crit = fnn.CrossEntropyLoss()
    crit(x, t)
    x[0, 0] += 1.0
    with pytest.raises(RuntimeError, match="modified in place"):
        crit.backward()
    crit(x, t)
    crit.backward()   # re-called on the current inputs: fine
    crit(x, t)        # fused call
    t[0] = 2
    with pytest.raises(RuntimeError, match="modified in place"):
        crit.backward(grad_output=2.0)  # a grad_output recomputes, and checks the inputs


def test_backward_with_grad_output_and_repeated_backward_give_value_and_grad():
    x, y = np.array([1.0, -2.0, 0.5]), np.array([0.0, 0.5, 0.5])
    crit = fnn.SmoothL1Loss(reduction="none")
    crit(x, y)
    crit.backward()
    crit(x, y)
    go = np.array([1.0, 2.0, -3.0])
    got = crit.backward(grad_output=go)
    _, expected = fl.value_and_grad(fl.smooth_l1_loss, x, y, reduction="none", grad_output=go)
    np.testing.assert_array_equal(got["input"], expected["input"])
    again = crit.backward()
    _, plain = fl.value_and_grad(fl.smooth_l1_loss, x, y, reduction="none")
    np.testing.assert_array_equal(again["input"], plain["input"])
