"""``value_and_grad`` and the registry of differentiable losses.

Each loss is implemented once, as a function with torch's signature plus a keyword-only
``_grad`` (a :class:`GradRequest` or None). Called without it, the implementation returns the
loss; with it, ``(loss, grads)`` from the fused forward+backward kernels. :func:`loss_function`
wraps the implementation into the public function (hiding ``_grad``) and registers it for
:func:`value_and_grad`.
"""
import functools
import inspect

from ._validation import RequiresGradError, as_array

_IMPLEMENTATIONS = {}

# Weights are differentiable where torch differentiates them, but API.md's default gradient dict
# leaves them out: they are computed only when ``wrt`` names them.
WEIGHT_ARGUMENTS = ("weight", "pos_weight")


class GradRequest:
    """What the caller of ``value_and_grad`` asked for.

    ``grad_output``: None (ones), a scalar or an array of the loss's shape.
    ``wrt``: the argument names to differentiate (None: every differentiable argument).
    """

    __slots__ = ("grad_output", "wrt")

    def __init__(self, grad_output, wrt):
        self.grad_output = grad_output
        self.wrt = wrt

    def wants(self, name):
        if self.wrt is None:
            return name not in WEIGHT_ARGUMENTS
        return name in self.wrt


def loss_function(differentiable):
    """Decorator: register ``impl`` as a loss whose gradient exists for the ``differentiable`` arguments."""

    def decorate(impl):
        signature = inspect.signature(impl)
        public_params = [p for name, p in signature.parameters.items() if name != "_grad"]

        @functools.wraps(impl)
        def public(*args, **kwargs):
            try:
                return impl(*args, **kwargs)
            except RequiresGradError as exc:
                exc.loss = impl.__name__  # the message names the torch bridge's function
                raise

        public.__signature__ = signature.replace(parameters=public_params)
        public.differentiable = tuple(differentiable)
        _IMPLEMENTATIONS[impl.__name__] = (impl, public.__signature__, tuple(differentiable))
        return public

    return decorate


def implementation(name):
    """The implementation behind the loss ``name`` (the public function plus ``_grad``), for
    callers whose arguments are already well-formed (fastloss.torch)."""
    return _IMPLEMENTATIONS[name][0]


def value_and_grad(fn, *args, grad_output=None, wrt=None, **kwargs):
    """Loss and gradients in one fused call.

    ``loss, grads = value_and_grad(fn, *args, grad_output=None, wrt=None, **kwargs)``

    ``fn`` is a fastloss loss function or its name (``'ctc_loss'``). ``grads`` maps each
    differentiable argument name (``'input'``, ``'target'``, ``'var'``, ...) to the gradient of
    ``sum(loss * grad_output)`` with respect to it, with that argument's shape and dtype.
    ``grad_output`` defaults to ones like the loss; ``wrt`` (a name or a sequence of names) chooses
    the gradients computed, the way ``requires_grad`` does in torch (default: every differentiable
    argument except ``weight``/``pos_weight``, which are computed only when ``wrt`` names them).
    """
    name = fn if isinstance(fn, str) else getattr(fn, "__name__", None)
    if name not in _IMPLEMENTATIONS:
        known = ", ".join(sorted(_IMPLEMENTATIONS))
        raise TypeError(f"value_and_grad: fn={fn!r} is not a fastloss loss function (known: {known})")
    impl, signature, differentiable = _IMPLEMENTATIONS[name]
    if wrt is not None:
        wrt = (wrt,) if isinstance(wrt, str) else tuple(wrt)
        unknown = [w for w in wrt if w not in differentiable]
        if unknown:
            raise ValueError(f"value_and_grad: wrt={wrt!r} names {unknown!r}, but {name} is differentiable "
                             f"only in {differentiable!r}")
    if "_grad" in kwargs:
        _check_call(name, signature, args, kwargs)
    if grad_output is not None:
        grad_output = as_array(grad_output, "grad_output")
    try:
        return impl(*args, **kwargs, _grad=GradRequest(grad_output, wrt))
    except RequiresGradError as exc:
        exc.loss = name
        raise
    except TypeError:
        # binding the arguments (microseconds) is left to the failure path: it tells a call that
        # does not match the signature from a TypeError the loss raised about a value
        _check_call(name, signature, args, kwargs)
        raise


def _check_call(name, signature, args, kwargs):
    """Raise TypeError naming the loss when ``args``/``kwargs`` do not fit its public signature."""
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{name}: {exc}") from None
