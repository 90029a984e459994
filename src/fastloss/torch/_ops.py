"""The torch custom operators: one ``fastloss::<loss>`` op per loss, defined from a table.

Every op has the same shape of schema::

    fastloss::mse_loss(Tensor input, Tensor target, Tensor? weight, str reduction,
                       bool[] wrt, Tensor? grad_output) -> (Tensor, Tensor, Tensor, Tensor)

the loss's tensors, its hyper-parameters, then ``wrt`` (one flag per differentiable argument)
and ``grad_output``; it returns the loss and one gradient per differentiable argument (an empty
tensor where ``wrt`` is False). It is ``fastloss.value_and_grad`` as an operator: CPU tensors
reach the Cython kernels as NumPy views of the same memory and the gradients come back through
``torch.from_numpy``, without copies (bfloat16, which NumPy lacks, is computed in float32).

Autograd (``register_autograd``): because fastloss fuses forward and backward, the forward
computes the gradients right away for the inputs that require grad (``wrt``), with
grad_output = 1; backward scales them in place by the actual grad_output, so a training step
costs one fused kernel pass. For ``reduction='none'`` the gradient is not a scaling of one
tensor (except for CTC, whose samples own disjoint slices), so backward calls the op again with
grad_output: one more fused pass. No second derivative is registered: differentiating a
gradient through these ops raises (see :class:`_NoSecondDerivative`), never a silent zero.

``register_fake`` gives each op's output shapes and dtypes from the shape rules below, so
``torch.compile(fullgraph=True)`` traces the ops as single graph nodes (no data-dependent shape:
CTC's output is (N,) or ()).
"""
import warnings

import numpy as np
import torch

import fastloss
from fastloss._autograd import GradRequest, implementation

__all__ = ["SPECS", "OPS", "EAGER", "call"]


class Spec:
    """One loss: its tensor arguments (``?`` marks optional ones), hyper-parameters and shape rule.

    ``differentiable`` comes from the fastloss function itself (what ``value_and_grad`` computes);
    ``torch_only`` names arguments torch differentiates and fastloss does not (a clear error when
    they require grad). ``to_kwargs`` adapts the op's arguments to the fastloss call where their
    names differ (a float ``var``, the built-in distances).
    """

    def __init__(self, name, tensors, params, shape, torch_only=(), to_kwargs=None, none_scales=None):
        self.name = name
        self.optional = tuple(t.endswith("?") for t in tensors)
        self.tensors = tuple(t.rstrip("?") for t in tensors)
        self.params = tuple(p for p, _ in params)
        self.param_types = tuple(t for _, t in params)
        self.function = getattr(fastloss, name)
        self.implementation = implementation(name)
        self.differentiable = tuple(self.function.differentiable)
        self.diff_index = tuple(self.tensors.index(d) for d in self.differentiable)
        self.torch_only = torch_only
        self.shape = shape
        self.to_kwargs = to_kwargs
        # For reduction='none': how a saved gradient (for grad_output = 1) scales by grad_output,
        # where that is exact; None: backward recomputes with grad_output.
        self.none_scales = none_scales
        self.reduction_index = self.params.index("reduction")

    def schema(self):
        args = [f"Tensor{'?' if opt else ''} {t}" for t, opt in zip(self.tensors, self.optional)]
        args += [f"{ty} {p}" for p, ty in zip(self.params, self.param_types)]
        args += ["bool[] wrt", "Tensor? grad_output"]
        returns = ", ".join(["Tensor"] * (1 + len(self.differentiable)))
        return f"({', '.join(args)}) -> ({returns})"


# --------------------------------------------------------------------------------------------
# Shape rules of the loss (for register_fake): torch's output shapes per reduction.

def _broadcast(*shapes):
    return tuple(torch.broadcast_shapes(*shapes))


def _elementwise_shape(tensors, params):
    return _broadcast(*(t.shape for t in tensors if t is not None))


def _gaussian_shape(tensors, params):
    x, y, var = tensors
    shapes = [x.shape, y.shape]
    if var is not None:
        # var without the input's last dimension is unsqueezed (torch's rule)
        shapes.append(tuple(var.shape) + (1,) if tuple(var.shape) == tuple(x.shape[:-1]) and var.ndim else var.shape)
    return _broadcast(*shapes)


def _class_shape(tensors, params):
    """nll_loss / cross_entropy: (N, C, d1, ...) -> (N, d1, ...); (C,) -> ()."""
    x = tensors[0]
    return () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])


def _row_shape(n):
    """Row losses (one loss per row of the last dimension) of ``n`` row operands: the batch shape."""
    return lambda tensors, params: _broadcast(*(t.shape for t in tensors[:n]))[:-1]


def _ctc_shape(tensors, params):
    lp = tensors[0]
    return (lp.shape[1],) if lp.ndim == 3 else ()


def _ctc_none_scales(grad, grad_output, in_place):
    """A CTC sample owns the slice [:, n, :] of the gradient: scale it by that sample's grad_output."""
    scale = grad_output.view(1, -1, 1) if grad.ndim == 3 else grad_output
    return grad.mul_(scale) if in_place else grad * scale


def _gaussian_kwargs(kwargs):
    var_value = kwargs.pop("var_value")
    if kwargs["var"] is None:
        kwargs["var"] = var_value
    return kwargs


def _distance_kwargs(kwargs):
    """The built-in distances an op can carry (a Python callable cannot be an op argument)."""
    kind, p, eps = kwargs.pop("distance"), kwargs.pop("p"), kwargs.pop("eps")
    kwargs["distance_function"] = (fastloss.nn.PairwiseDistance(p=p, eps=eps) if kind == "pairwise"
                                   else fastloss.nn.CosineDistance(eps=eps))
    return kwargs


_R = ("reduction", "str")
SPECS = {s.name: s for s in [
    Spec("l1_loss", ["input", "target", "weight?"], [_R], _elementwise_shape),
    Spec("mse_loss", ["input", "target", "weight?"], [_R], _elementwise_shape),
    Spec("smooth_l1_loss", ["input", "target"], [_R, ("beta", "float")], _elementwise_shape),
    Spec("huber_loss", ["input", "target", "weight?"], [_R, ("delta", "float")], _elementwise_shape),
    Spec("nll_loss", ["input", "target", "weight?"], [("ignore_index", "int"), _R], _class_shape),
    Spec("cross_entropy", ["input", "target", "weight?"],
         [("ignore_index", "int"), _R, ("label_smoothing", "float")], _class_shape, torch_only=("weight",)),
    Spec("binary_cross_entropy", ["input", "target", "weight?"], [_R], _elementwise_shape),
    Spec("binary_cross_entropy_with_logits", ["input", "target", "weight?", "pos_weight?"], [_R],
         _elementwise_shape),
    Spec("kl_div", ["input", "target"], [_R, ("log_target", "bool")], _elementwise_shape),
    Spec("poisson_nll_loss", ["input", "target"],
         [("log_input", "bool"), ("full", "bool"), ("eps", "float"), _R], _elementwise_shape),
    Spec("gaussian_nll_loss", ["input", "target", "var?"],
         [("var_value", "float"), ("full", "bool"), ("eps", "float"), _R], _gaussian_shape,
         to_kwargs=_gaussian_kwargs),
    Spec("hinge_embedding_loss", ["input", "target"], [("margin", "float"), _R], _elementwise_shape),
    Spec("multilabel_margin_loss", ["input", "target"], [_R], _row_shape(1)),
    Spec("soft_margin_loss", ["input", "target"], [_R], _elementwise_shape),
    Spec("multilabel_soft_margin_loss", ["input", "target", "weight?"], [_R], _row_shape(1),
         torch_only=("weight",)),
    Spec("cosine_embedding_loss", ["input1", "input2", "target"], [("margin", "float"), _R], _row_shape(2)),
    Spec("margin_ranking_loss", ["input1", "input2", "target"], [("margin", "float"), _R], _elementwise_shape),
    Spec("multi_margin_loss", ["input", "target", "weight?"], [("p", "int"), ("margin", "float"), _R],
         _row_shape(1)),
    Spec("triplet_margin_loss", ["anchor", "positive", "negative"],
         [("margin", "float"), ("p", "float"), ("eps", "float"), ("swap", "bool"), _R], _row_shape(3)),
    Spec("triplet_margin_with_distance_loss", ["anchor", "positive", "negative"],
         [("distance", "str"), ("p", "float"), ("eps", "float"), ("margin", "float"), ("swap", "bool"), _R],
         _row_shape(3), to_kwargs=_distance_kwargs),
    Spec("ctc_loss", ["log_probs", "targets", "input_lengths", "target_lengths"],
         [("blank", "int"), _R, ("zero_infinity", "bool")], _ctc_shape, none_scales=_ctc_none_scales),
]}


# --------------------------------------------------------------------------------------------
# Tensors <-> arrays, without copies.

def _to_array(t):
    """A CPU tensor as a NumPy array sharing its memory (any strides), detached; a negative-bit
    view is resolved (a copy); bfloat16, which NumPy lacks, becomes a float32 copy (computed in
    float32, returned as bfloat16)."""
    try:
        return t.numpy(force=True)  # one call: detach and resolve_neg are folded in
    except TypeError:  # bfloat16
        return t.detach().float().numpy()


def _to_tensor(a, dtype):
    """A NumPy result as a tensor of ``dtype``, sharing its memory where the dtype already matches."""
    if type(a) is not np.ndarray:
        a = np.asarray(a)
    if not a.flags.writeable:
        a = a.copy()  # torch.from_numpy warns about read-only memory (fastloss's results are fresh arrays)
    try:
        t = torch.from_numpy(a)
    except ValueError:  # negative strides, which torch.from_numpy refuses (not expected either)
        t = torch.from_numpy(a.copy())
    return t if t.dtype is dtype else t.to(dtype)


def _result_dtype(spec, tensors):
    """The loss's dtype: torch's promotion among the floating tensor arguments."""
    result = None
    for t in tensors:
        if t is not None and t.is_floating_point():
            result = t.dtype if result is None or result is t.dtype else torch.promote_types(result, t.dtype)
    return torch.get_default_dtype() if result is None else result


# --------------------------------------------------------------------------------------------
# The op's kernel, fake and autograd.

def _split(spec, args):
    nt, np_ = len(spec.tensors), len(spec.params)
    return args[:nt], args[nt:nt + np_], args[nt + np_], args[nt + np_ + 1]


def _compute(spec, tensors, params, wrt, grad_output):
    """fastloss's loss and gradients for the op's arguments, as tensors: ``(loss, grads)``, where
    ``grads`` holds one tensor per differentiable argument whose ``wrt`` flag is set (None for
    the others), or is None when no flag is set (the forward-only kernel runs).

    The loss's implementation is called directly (what ``value_and_grad`` calls after checking
    its own arguments, which are well-formed here: the names come from the loss's own table)."""
    kwargs = dict(zip(spec.params, params))
    for name, t in zip(spec.tensors, tensors):
        kwargs[name] = t if t is None else _to_array(t)
    if spec.to_kwargs is not None:
        kwargs = spec.to_kwargs(kwargs)
    dtype = _result_dtype(spec, tensors)
    wanted = [name for name, w in zip(spec.differentiable, wrt) if w]
    if not wanted:
        return _to_tensor(spec.function(**kwargs), dtype), None
    go = None if grad_output is None else _to_array(grad_output)
    loss, arrays = spec.implementation(**kwargs, _grad=GradRequest(go, wanted))
    grads = []
    for name, i in zip(spec.differentiable, spec.diff_index):
        g = arrays.get(name)
        grads.append(g if g is None else _to_tensor(g, tensors[i].dtype))
    return _to_tensor(loss, dtype), grads


def _kernel(spec, *args):
    tensors, params, wrt, grad_output = _split(spec, args)
    loss, grads = _compute(spec, tensors, params, wrt, grad_output)
    if grads is None:
        grads = [None] * len(wrt)
    # an empty tensor stands for a gradient not asked for (the schema returns one per argument)
    return (loss, *(tensors[0].new_empty(0) if g is None else g for g in grads))


def _fake(spec, *args):
    tensors, params, wrt, _ = _split(spec, args)
    first = tensors[0]
    shape = () if params[spec.reduction_index] != "none" else spec.shape(tensors, params)
    out = [first.new_empty(shape, dtype=_result_dtype(spec, tensors))]
    for w, i in zip(wrt, spec.diff_index):
        t = tensors[i]
        out.append(t.new_empty(t.shape) if w else first.new_empty(0))
    return tuple(out)


def _setup_context(spec, ctx, inputs, output):
    nt = len(spec.tensors)
    ctx.set_materialize_grads(False)
    ctx.mark_non_differentiable(*output[1:])
    ctx.save_for_backward(*inputs[:nt])
    ctx.params = inputs[nt:nt + len(spec.params)]
    # The gradients computed in forward, consumed (scaled in place) by the first backward. They
    # are held on ctx, not saved: a second backward (retain_graph=True) finds them gone and
    # recomputes; no saved-tensor version check trips on the in-place scaling.
    ctx.grads = [g if w else None for g, w in zip(output[1:], inputs[nt + len(spec.params)])]


def _backward(spec, op, ctx, grad_loss, n_out):
    """The gradients of the op's (or the eager Function's: ``n_out`` arguments) inputs."""
    result = [None] * n_out
    if grad_loss is None:
        return tuple(result)
    needs = ctx.needs_input_grad
    reduced = ctx.params[spec.reduction_index] != "none"
    saved, ctx.grads = ctx.grads, None
    eager = _eager(grad_loss)
    # loss.backward() passes grad_output = 1: the saved gradients are the answer, no pass over them
    unit = eager and reduced and saved is not None and grad_loss.item() == 1.0
    missing = []
    for j, i in enumerate(spec.diff_index):
        if not needs[i]:
            continue
        g = None if saved is None else saved[j]
        if g is not None and reduced:
            result[i] = g if unit else g.mul_(grad_loss) if eager else g * grad_loss
        elif g is not None and spec.none_scales is not None:
            result[i] = spec.none_scales(g, grad_loss, eager)
        else:
            missing.append(j)
    if missing or torch.is_grad_enabled():
        tensors = ctx.saved_tensors
        if missing:
            # one more fused pass, with the real grad_output (the op itself where a compiler traces)
            wrt = [j in missing for j in range(len(spec.differentiable))]
            recomputed = _kernel(spec, *tensors, *ctx.params, wrt, grad_loss) if eager else op(
                *tensors, *ctx.params, wrt, grad_loss)
            for j in missing:
                result[spec.diff_index[j]] = recomputed[1 + j]
        if torch.is_grad_enabled():  # create_graph=True: make any second derivative through us raise
            inputs = [t for t in tensors if t is not None and t.requires_grad]
            if inputs:
                result = [None if g is None else _NoSecondDerivative.apply(spec.name, g, *inputs) for g in result]
    return tuple(result)


def _eager(grad_output):
    """True in plain eager autograd, where backward may scale the saved gradients in place and
    look at grad_output's value; False while torch.compile (AOTAutograd) or a torch.func
    transform traces the backward, which must stay functional and data-independent."""
    return type(grad_output) is torch.Tensor and not _are_functorch_transforms_active()


class _NoSecondDerivative(torch.autograd.Function):
    """Passes a gradient through; differentiating it with respect to the loss's inputs raises.

    fastloss computes first derivatives only. Without this node a double backward would see
    no path from the loss's inputs to their gradient and silently return zero.
    """

    @staticmethod
    def forward(ctx, name, grad, *inputs):
        ctx.name = name
        return grad

    @staticmethod
    def backward(ctx, grad_grad):
        if any(ctx.needs_input_grad[2:]):
            raise RuntimeError(
                f"fastloss.torch.{ctx.name}: fastloss has no second derivative of this loss (double backward "
                f"through a fastloss gradient). Use torch.nn.functional.{ctx.name} where a second derivative "
                f"is needed (e.g. gradient penalties).")
        return None, grad_grad, *[None] * (len(ctx.needs_input_grad) - 2)


def _define(spec):
    def kernel(*args):
        return _kernel(spec, *args)

    def fake(*args):
        return _fake(spec, *args)

    n_out = len(spec.tensors) + len(spec.params) + 2

    def backward(ctx, grad_loss, *_grads_of_grads):
        return _backward(spec, overload, ctx, grad_loss, n_out)

    def setup_context(ctx, inputs, output):
        _setup_context(spec, ctx, inputs, output)

    kernel.__name__ = spec.name
    op = torch.library.custom_op(f"fastloss::{spec.name}", kernel, mutates_args=(), device_types="cpu",
                                 schema=spec.schema())
    op.register_fake(fake)
    overload = op._opoverload
    op.register_autograd(backward, setup_context=setup_context)
    # torch's losses run in float32 under CPU autocast: so do these
    torch.library.register_autocast(op, "cpu", torch.float32)
    return overload


OPS = {name: _define(spec) for name, spec in SPECS.items()}


def _eager_function(spec):
    """The same kernel, setup_context and backward as the op's, as a plain autograd.Function.

    In eager mode this is what the public functions call: the dispatcher round trips of a custom
    op (boxing, default filling, the Python autograd wrapper, redispatch) cost more than the
    whole fused kernel on small inputs (see the README's torch section). Under torch.compile,
    torch.export or any dispatch mode the op itself runs (see :func:`call`).
    """
    op = OPS[spec.name]

    # forward(ctx, ...) rather than a setup_context staticmethod: with one, apply() binds every
    # call's arguments with inspect.signature (microseconds that matter at this size). And the
    # gradients go straight onto ctx: the loss is the only output autograd has to wrap.
    nt = len(spec.tensors)

    # apply(*tensors, params, wrt): the hyper-parameters as one tuple (each argument of apply
    # costs). No set_materialize_grads(False): the loss is the only output, so backward always
    # gets its gradient.
    def forward(ctx, *args):
        tensors = args[:nt]
        ctx.params = params = args[nt]
        loss, ctx.grads = _compute(spec, tensors, params, args[nt + 1], None)
        ctx.save_for_backward(*tensors)
        return loss

    def backward(ctx, grad_loss):
        return _backward(spec, op, ctx, grad_loss, nt + 2)

    return type(f"fastloss_{spec.name}", (torch.autograd.Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward)})


EAGER = {name: _eager_function(spec) for name, spec in SPECS.items()}
# What EAGER[name].apply runs once it has found no functorch transform active (a condition of the
# eager path): autograd's own apply, without the Python wrapper's per-call argument walk.
_APPLY = {name: super(torch.autograd.Function, function).apply for name, function in EAGER.items()}
_unwrap_if_dead = torch._C._functorch.unwrap_if_dead


# --------------------------------------------------------------------------------------------
# Calling an op from a torch-style function.

_warned_devices = set()


def _fastloss_runs_on(device):
    """Whether fastloss has a backend for tensors on ``device``: the one place to change when the
    GPU backend can take CUDA tensors (through DLPack: ``cupy.from_dlpack(t)`` in ``_to_array``,
    ``torch.from_dlpack(a)`` in ``_to_tensor``, and the op's kernel registered for "cuda").

    Today: the CPU only; other devices run torch's own function, with a one-time warning."""
    if device.type == "cpu":
        return True
    if device.type not in _warned_devices:
        _warned_devices.add(device.type)
        warnings.warn(f"fastloss.torch: fastloss has no backend for {device.type} tensors yet (the GPU backend "
                      f"does not take torch tensors); these calls run torch.nn.functional's own loss instead. "
                      f"This warning is shown once.", RuntimeWarning, stacklevel=4)
    return False


def call(name, tensors, params):
    """The loss ``name`` through its op: the loss tensor, differentiable by torch's autograd.

    Returns None when fastloss has no backend for the tensors' device (the caller then runs
    torch's own function).
    """
    spec = SPECS[name]
    graph, plain = False, True
    for t in tensors:
        if t is not None:
            if not t.is_cpu and not _fastloss_runs_on(t.device):
                return None
            graph = graph or t.requires_grad
            plain = plain and type(t) is torch.Tensor
    graph = graph and torch.is_grad_enabled()
    if graph:
        wrt = [tensors[i] is not None and tensors[i].requires_grad for i in spec.diff_index]
        if spec.torch_only:
            _refuse_torch_only(spec, tensors)
    else:
        wrt = [False] * len(spec.diff_index)
    # For plain tensors with no compiler tracing, autocast, dispatch mode or functorch transform
    # the autograd.Function path is exact (the checks in line: this is every eager call's cost).
    if (plain and not _is_compiling() and not _is_any_autocast_enabled() and not _len_torch_dispatch_stack()
            and not _are_functorch_transforms_active()):
        if not graph:  # nothing to differentiate: the kernel alone
            return _compute(spec, tensors, params, (), None)[0]
        return _APPLY[name](*[t if t is None else _unwrap_if_dead(t) for t in tensors], params, wrt)
    return OPS[name](*tensors, *params, wrt, None)[0]


_is_compiling = torch.compiler.is_compiling
_is_any_autocast_enabled = torch._C._is_any_autocast_enabled
_len_torch_dispatch_stack = torch._C._len_torch_dispatch_stack
_are_functorch_transforms_active = torch._C._are_functorch_transforms_active


def _refuse_torch_only(spec, tensors):
    for name in spec.torch_only:
        t = tensors[spec.tensors.index(name)]
        if t is not None and t.requires_grad:
            raise NotImplementedError(
                f"fastloss.torch.{spec.name}: {name} requires grad, but fastloss does not compute the gradient "
                f"with respect to {name} (torch does). Pass {name}.detach(), or use "
                f"torch.nn.functional.{spec.name} for that gradient.")
