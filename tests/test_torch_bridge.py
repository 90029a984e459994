"""fastloss.torch: values, gradients (gradcheck), the custom ops (opcheck, torch.compile), dtypes,
zero-copy, second derivatives, devices and modules — always against torch itself.

Skipped as a whole when torch is not installed.
"""
import importlib
import warnings

import pytest

torch = pytest.importorskip("torch")

from torch_cases import CASES, REDUCTIONS  # noqa: E402

import fastloss.torch as flt  # noqa: E402
from fastloss.torch import _ops  # noqa: E402
from fastloss.torch import functional as flt_functional  # noqa: E402

pytestmark = pytest.mark.torch
TF = torch.nn.functional


def _calls():
    for name, cases in CASES.items():
        for case_id, make in cases:
            yield pytest.param(name, make, id=f"{name}-{case_id}")


def _with_reduction(kwargs, reduction):
    kwargs = dict(kwargs)
    kwargs.setdefault("reduction", reduction)
    return kwargs


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own warnings (kl_div 'mean', legacy arguments)
        return fn(*args, **kwargs)


def _requiring_grad(args, kwargs, diff):
    args = list(args)
    for i in diff:
        args[i] = args[i].detach().clone().requires_grad_()
    return args, kwargs, [args[i] for i in diff]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, make", list(_calls()))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_value_and_gradient_match_torch(name, make, reduction, dtype):
    args, kwargs, diff = make(dtype)
    kwargs = _with_reduction(kwargs, reduction)
    ours_args, _, ours_leaves = _requiring_grad(args, kwargs, diff)
    theirs_args, _, theirs_leaves = _requiring_grad(args, kwargs, diff)
    ours = _quiet(getattr(flt, name), *ours_args, **kwargs)
    theirs = _quiet(getattr(TF, name), *theirs_args, **kwargs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    rtol, atol = (1e-10, 1e-12) if dtype == torch.float64 else (2e-5, 1e-6)
    torch.testing.assert_close(ours.detach(), theirs.detach(), rtol=rtol, atol=atol, equal_nan=True)
    # a grad_output that is not all ones, to test the scaling of the saved gradients
    weights = torch.linspace(0.5, 2.0, max(ours.numel(), 1), dtype=dtype).reshape(ours.shape)
    grads_ours = torch.autograd.grad(ours, ours_leaves, weights)
    grads_theirs = torch.autograd.grad(theirs, theirs_leaves, weights)
    for g_ours, g_theirs in zip(grads_ours, grads_theirs):
        assert g_ours.dtype == g_theirs.dtype and g_ours.shape == g_theirs.shape
        torch.testing.assert_close(g_ours, g_theirs, rtol=rtol * 10, atol=atol * 10, equal_nan=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, make", list(_calls()))
def test_gradcheck(name, make, reduction):
    args, kwargs, diff = make(torch.float64)
    kwargs = _with_reduction(kwargs, reduction)

    def loss(*leaves):
        call = list(args)
        for i, leaf in zip(diff, leaves):
            call[i] = leaf
        if name == "ctc_loss":
            # torch's CTC gradient is the logits' gradient (TORCH_NOTES.md): check it through log_softmax
            call[0] = call[0].log_softmax(-1)
        return _quiet(getattr(flt, name), *call, **kwargs)

    leaves = [args[i].detach().clone().requires_grad_() for i in diff]
    assert torch.autograd.gradcheck(loss, leaves, eps=1e-6, atol=1e-6, rtol=1e-5)


def _op_arguments(name, args, kwargs):
    """The op's positional arguments for a functional call (through the function's own mapping)."""
    tensors, params = getattr(flt_functional, name).__wrapped__(*args, **kwargs)
    spec = _ops.SPECS[name]
    wrt = [tensors[i] is not None and tensors[i].requires_grad for i in spec.diff_index]
    return (*tensors, *params, wrt, None)


@pytest.mark.parametrize("name", sorted(CASES))
def test_opcheck(name):
    """torch's own check of a custom op: schema, fake tensors, autograd registration, AOT dispatch."""
    _, make = CASES[name][-1]
    args, kwargs, diff = make(torch.float64)
    args, kwargs, _ = _requiring_grad(args, kwargs, diff)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.library.opcheck(_ops.OPS[name], _op_arguments(name, args, kwargs))
        kwargs = dict(kwargs, reduction="none")
        torch.library.opcheck(_ops.OPS[name], _op_arguments(name, args, kwargs))


def test_ops_are_registered():
    for name in CASES:
        assert getattr(torch.ops.fastloss, name).default is _ops.OPS[name]
    assert sorted(CASES) == sorted(flt.__all__[2:])  # every loss has a case here


def test_compile_fullgraph_ctc_and_cross_entropy():
    """A training step calling ctc_loss and cross_entropy compiles to one graph (no break) holding
    both ops, and matches torch's eager step."""
    torch.manual_seed(0)
    T, N, C, S, H = 14, 3, 6, 4, 8
    model = torch.nn.Sequential(torch.nn.Linear(5, H), torch.nn.Tanh())  # (Dynamo does not trace GRUs)
    head = torch.nn.Linear(H, C)
    x = torch.randn(T, N, 5)
    targets = torch.randint(1, C, (N, S))
    input_lengths = torch.tensor([14, 12, 9])
    target_lengths = torch.tensor([4, 2, 3])
    frame_labels = torch.randint(0, C, (T * N,))

    def step(losses):
        def run(x):
            logits = head(model(x))
            lp = logits.log_softmax(-1)
            return (losses.ctc_loss(lp, targets, input_lengths, target_lengths)
                    + losses.cross_entropy(logits.reshape(-1, C), frame_labels))
        return run

    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    compiled = torch.compile(step(flt), fullgraph=True, backend=backend)
    params = list(model.parameters()) + list(head.parameters())
    loss = compiled(x)
    grads = torch.autograd.grad(loss, params)
    reference = step(TF)(x)
    expected = torch.autograd.grad(reference, params)
    torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-6)
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6)
    assert len(graphs) == 1
    targets_called = {node.target for node in graphs[0].graph.nodes if node.op == "call_function"}
    assert torch.ops.fastloss.ctc_loss.default in targets_called
    assert torch.ops.fastloss.cross_entropy.default in targets_called
    # and through inductor (the default backend): the same values
    loss2 = torch.compile(step(flt), fullgraph=True)(x)
    torch.testing.assert_close(loss2, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("name", ["mse_loss", "cross_entropy", "ctc_loss", "triplet_margin_loss"])
def test_half_precision_computed_in_float32(name, dtype):
    """float16/bfloat16 tensors: computed in float32 (the float32 result, rounded once), returned in
    their own dtype, gradients too."""
    args, kwargs, diff = CASES[name][0][1](torch.float32)
    half_args = [a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]
    half_args, kwargs, leaves = _requiring_grad(half_args, kwargs, diff)
    loss = flt_call(name, half_args, kwargs)
    assert loss.dtype == dtype
    loss.backward()
    # the float32 computation on the same (rounded) values
    f32_args = [a.detach().float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                for a in half_args]
    f32_args, _, f32_leaves = _requiring_grad(f32_args, kwargs, diff)
    reference = flt_call(name, f32_args, kwargs)
    reference.backward()
    assert loss.item() == reference.to(dtype).item()
    for leaf, ref in zip(leaves, f32_leaves):
        assert leaf.grad.dtype == dtype
        torch.testing.assert_close(leaf.grad.float(), ref.grad.to(dtype).float(), rtol=0, atol=0)


def flt_call(name, args, kwargs):
    return _quiet(getattr(flt, name), *args, **kwargs)


class _Spy:
    """Records the arrays each loss's fused implementation receives and the gradients it returns."""

    def __init__(self, monkeypatch):
        self.calls = []
        for spec in _ops.SPECS.values():
            monkeypatch.setattr(spec, "implementation", self._spy(spec.implementation))

    def _spy(self, real):
        def spy(**kwargs):
            loss, grads = real(**kwargs)
            self.calls.append((kwargs, grads))
            return loss, grads

        return spy


def _data_pointer(a):
    return a.__array_interface__["data"][0]


def test_cpu_tensors_reach_the_kernels_without_copies(monkeypatch):
    spy = _Spy(monkeypatch)
    base = torch.randn(12, 40, dtype=torch.float64)
    x = base[::2, ::3].t().requires_grad_()  # non-contiguous: transposed, strided rows and columns
    y = torch.randn(x.shape, dtype=torch.float64)
    loss = flt.mse_loss(x, y)
    ((kwargs, grads),) = spy.calls
    seen = kwargs["input"]
    assert _data_pointer(seen) == x.data_ptr()
    assert seen.strides == tuple(s * x.element_size() for s in x.stride())
    assert _data_pointer(kwargs["target"]) == y.data_ptr()
    loss.backward()
    torch.testing.assert_close(x.grad, 2 * (x - y).detach() / x.numel())


def test_a_dense_gradient_becomes_grad_without_a_copy(monkeypatch):
    # The gradient comes out in the input's axis order. Where the input is dense (here transposed)
    # that is the layout autograd keeps, so the gradient computed in forward becomes x.grad as it
    # is (grad_output is 1). For a non-dense input autograd makes .grad contiguous, as for torch's
    # own gradients.
    spy = _Spy(monkeypatch)
    x = torch.randn(40, 12, dtype=torch.float64).t().requires_grad_()
    y = torch.randn(x.shape, dtype=torch.float64)
    loss = flt.mse_loss(x, y)
    ((kwargs, grads),) = spy.calls
    assert grads["input"].strides == tuple(s * x.element_size() for s in x.stride())
    loss.backward()
    assert x.grad.data_ptr() == _data_pointer(grads["input"])
    torch.testing.assert_close(x.grad, 2 * (x - y).detach() / x.numel())


def test_gradient_scaled_in_place_and_recomputed_for_a_second_backward():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 5, (4,))
    loss = flt.cross_entropy(x, y)
    (3.0 * loss).backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()  # the saved gradient was consumed: recomputed
    expected = torch.autograd.grad(TF.cross_entropy(x, y), x)[0]
    torch.testing.assert_close(first, 3 * expected)
    torch.testing.assert_close(x.grad, 4 * expected)


def test_no_gradient_work_without_requires_grad(monkeypatch):
    spy = _Spy(monkeypatch)
    x = torch.randn(4, 5, requires_grad=True)
    y = torch.randint(0, 5, (4,))
    with torch.no_grad():
        loss = flt.cross_entropy(x, y)
    assert loss.grad_fn is None and spy.calls == []  # the forward-only kernel ran
    loss = flt.cross_entropy(x.detach(), y)
    assert not loss.requires_grad and spy.calls == []
    torch.testing.assert_close(loss, TF.cross_entropy(x.detach(), y))


def test_only_inputs_that_require_grad_are_differentiated(monkeypatch):
    spy = _Spy(monkeypatch)
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 4, dtype=torch.float64)
    flt.mse_loss(x, y).backward()
    ((kwargs, grads),) = spy.calls
    assert list(kwargs["_grad"].wrt) == ["input"] and set(grads) == {"input"}


def test_second_derivative_raises_instead_of_returning_zero():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 5, dtype=torch.float64)
    (g,) = torch.autograd.grad(flt.mse_loss(x, y), x, create_graph=True)
    torch.testing.assert_close(g, 2 * (x - y).detach() / 20)  # the first derivative is still right
    with pytest.raises(RuntimeError, match="no second derivative"):
        g.sum().backward()
    # also when the second derivative would flow through other terms too
    total = flt.mse_loss(x, y) + (x ** 3).sum()
    (g,) = torch.autograd.grad(total, x, create_graph=True)
    with pytest.raises(RuntimeError, match="fastloss.torch.mse_loss: fastloss has no second derivative"):
        torch.autograd.grad(g.sum(), x)


def test_gradient_torch_has_and_fastloss_lacks_is_refused():
    x = torch.randn(4, 5, requires_grad=True)
    target = torch.rand(4, 5).softmax(1)
    weight = torch.rand(5, requires_grad=True)
    with pytest.raises(NotImplementedError, match="weight requires grad"):
        flt.cross_entropy(x, target, weight=weight)
    flt.cross_entropy(x, target, weight=weight.detach()).backward()  # detached: fine


def test_devices_without_a_fastloss_backend_run_torch_with_one_warning(monkeypatch):
    monkeypatch.setattr(_ops, "_warned_devices", set())
    x = torch.empty(4, 5, device="meta")
    y = torch.empty(4, 5, device="meta")
    with pytest.warns(RuntimeWarning, match="no backend for meta tensors"):
        loss = flt.mse_loss(x, y)
    assert loss.device.type == "meta" and loss.shape == ()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flt.l1_loss(x, y)  # once per device type


def test_autocast_runs_the_loss_in_float32_as_torch_does():
    x = torch.randn(6, 5, dtype=torch.bfloat16)
    y = torch.randint(0, 5, (6,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours, theirs = flt.cross_entropy(x, y), TF.cross_entropy(x, y)
    assert ours.dtype == theirs.dtype == torch.float32
    torch.testing.assert_close(ours, theirs)


def test_ctc_gradient_follows_torchs_convention():
    """torch returns exp(log_probs) - posterior for log_probs (not the partial derivative)."""
    args, kwargs, _ = CASES["ctc_loss"][0][1](torch.float64)
    lp = args[0].detach().clone().requires_grad_()
    g_ours = torch.autograd.grad(flt.ctc_loss(lp, *args[1:], **kwargs), lp)[0]
    g_theirs = torch.autograd.grad(TF.ctc_loss(lp, *args[1:], **kwargs), lp)[0]
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-9, atol=1e-12)


def test_triplet_distance_functions():
    a, p, n = (torch.randn(5, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    custom = lambda u, v: (u - v).abs().sum(-1)  # noqa: E731 - a callable the op cannot carry
    for distance in (None, torch.nn.PairwiseDistance(p=1.5), flt.nn.CosineDistance(), custom):
        ours = flt.triplet_margin_with_distance_loss(a, p, n, distance_function=distance, swap=True)
        reference_distance = (lambda u, v: 1 - TF.cosine_similarity(u, v, eps=1e-8)) if isinstance(
            distance, flt.nn.CosineDistance) else distance
        theirs = TF.triplet_margin_with_distance_loss(a, p, n, distance_function=reference_distance, swap=True)
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
        for g, e in zip(torch.autograd.grad(ours, (a, p, n)), torch.autograd.grad(theirs, (a, p, n))):
            torch.testing.assert_close(g, e, rtol=1e-9, atol=1e-12)


def test_builtin_distances_go_through_the_op_and_callables_through_torch(monkeypatch):
    spy = _Spy(monkeypatch)
    a, p, n = (torch.randn(5, 4, requires_grad=True) for _ in range(3))
    flt.triplet_margin_with_distance_loss(a, p, n, distance_function=torch.nn.PairwiseDistance()).backward()
    assert len(spy.calls) == 1
    flt.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda u, v: (u - v).norm(dim=-1)).backward()
    assert len(spy.calls) == 1


def test_legacy_reduction_arguments_warn_as_torch():
    x, y = torch.randn(3, 4), torch.randn(3, 4)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        ours = flt.mse_loss(x, y, size_average=False)
    torch.testing.assert_close(ours, _quiet(TF.mse_loss, x, y, size_average=False))


def test_errors_come_from_fastloss_validation():
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match="reduction"):
        flt.mse_loss(x, x, reduction="avg")
    with pytest.raises(IndexError, match="target"):
        flt.cross_entropy(x, torch.tensor([0, 1, 7]))


def _module_cases():
    cases = {name: make for name, ((_, make), *_) in CASES.items()}
    return [
        ("L1Loss", {}, "l1_loss"), ("MSELoss", {"reduction": "sum"}, "mse_loss"),
        ("SmoothL1Loss", {"beta": 0.5}, "smooth_l1_loss"), ("HuberLoss", {"delta": 0.7}, "huber_loss"),
        ("NLLLoss", {"ignore_index": 1}, "nll_loss"), ("CrossEntropyLoss", {"label_smoothing": 0.1}, "cross_entropy"),
        ("BCELoss", {}, "binary_cross_entropy"),
        ("BCEWithLogitsLoss", {"pos_weight": torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64)},
         "binary_cross_entropy_with_logits"),
        ("KLDivLoss", {"reduction": "batchmean"}, "kl_div"), ("PoissonNLLLoss", {"full": True}, "poisson_nll_loss"),
        ("GaussianNLLLoss", {"full": True}, "gaussian_nll_loss"),
        ("HingeEmbeddingLoss", {"margin": 0.5}, "hinge_embedding_loss"),
        ("MultiLabelMarginLoss", {}, "multilabel_margin_loss"), ("SoftMarginLoss", {}, "soft_margin_loss"),
        ("MultiLabelSoftMarginLoss", {}, "multilabel_soft_margin_loss"),
        ("CosineEmbeddingLoss", {"margin": 0.1}, "cosine_embedding_loss"),
        ("MarginRankingLoss", {"margin": 0.2}, "margin_ranking_loss"),
        ("MultiMarginLoss", {"p": 2}, "multi_margin_loss"),
        ("TripletMarginLoss", {"swap": True}, "triplet_margin_loss"),
        ("TripletMarginWithDistanceLoss", {"distance_function": torch.nn.PairwiseDistance(p=1.0)},
         "triplet_margin_with_distance_loss"),
        ("CTCLoss", {"zero_infinity": True}, "ctc_loss"),
    ], cases


@pytest.mark.parametrize("cls_name, options, function", _module_cases()[0], ids=[c[0] for c in _module_cases()[0]])
def test_modules_mirror_torch(cls_name, options, function):
    make = _module_cases()[1][function]
    args, kwargs, diff = make(torch.float64)
    ours_module = getattr(flt.nn, cls_name)(**options)
    theirs_module = getattr(torch.nn, cls_name)(**options)
    assert isinstance(ours_module, type(theirs_module))
    assert ours_module.state_dict().keys() == theirs_module.state_dict().keys()
    module_args = [a for a in args]
    ours = _quiet(ours_module, *module_args)
    theirs = _quiet(theirs_module, *module_args)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    leaf_args, _, leaves = _requiring_grad(args, kwargs, diff)
    _quiet(ours_module, *leaf_args).backward()
    assert all(leaf.grad is not None for leaf in leaves)


def test_nllloss2d_is_deprecated_as_in_torch():
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        module = flt.nn.NLLLoss2d()
    x = torch.randn(2, 3, 4, 4).log_softmax(1)
    t = torch.randint(0, 3, (2, 4, 4))
    torch.testing.assert_close(module(x, t), TF.nll_loss(x, t))


def test_every_torch_loss_module_has_a_fastloss_counterpart():
    import torch.nn.modules.loss as torch_losses

    missing = [n for n in torch_losses.__all__ if not hasattr(flt.nn, n)]
    # LinearCrossEntropyLoss (torch 2.13: a Linear layer fused with the loss) is not a loss of API.md
    assert missing in ([], ["LinearCrossEntropyLoss"])


def test_fastloss_torch_does_not_shadow_torch_inside_fastloss():
    for module in ("fastloss.torch._ops", "fastloss.torch.functional", "fastloss.torch.nn"):
        assert importlib.import_module(module).torch is torch
