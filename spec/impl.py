"""The implementation under test, chosen by ``FASTLOSS_SPEC_IMPL``:

* ``fastloss`` (the default): fastloss on the NumPy arrays, the CPU backend;
* ``cupy``: fastloss on the GPU, every NumPy argument uploaded to a CuPy array and every result
  downloaded (``FASTLOSS_SPEC_IMPL=cupy pytest spec`` is the spec suite on a real device);
* ``fakecupy``: the same through ``fastloss._gpu.fakecupy`` (device path, kernels emulated on the
  CPU), which checks this upload/download layer on a machine without a GPU;
* ``torch``: torch itself, to check the spec.

Each exposes ``loss(name, *args, **kwargs)`` and ``value_and_grad(name, *args, grad_output=None,
**kwargs)`` on NumPy arrays, so every property runs unchanged against any of them.
"""
import importlib
import os

import numpy as np

NAME = os.environ.get("FASTLOSS_SPEC_IMPL", "fastloss")


def torch_available():
    try:
        import torch  # noqa: F401
    except Exception:
        return False
    return True


class FastlossImpl:
    name = "fastloss"

    def loss(self, name, *args, **kwargs):
        import fastloss

        return getattr(fastloss, name)(*args, **kwargs)

    def value_and_grad(self, name, *args, grad_output=None, **kwargs):
        import fastloss

        # Every differentiable argument, weights included (by default fastloss leaves them out).
        kwargs.setdefault("wrt", getattr(fastloss, name).differentiable)
        return fastloss.value_and_grad(name, *args, grad_output=grad_output, **kwargs)

    def module(self, name, **kwargs):
        """The loss module ``name`` (e.g. ``'HuberLoss'``) constructed with ``kwargs``: a callable on
        NumPy arrays, returning the loss as a NumPy array."""
        import fastloss.nn

        return getattr(fastloss.nn, name)(**kwargs)


class TorchImpl:
    """torch as the implementation: tensors from the arrays, autograd for the gradients."""

    name = "torch"

    def _convert(self, value, differentiable):
        import torch

        if isinstance(value, np.ndarray):
            t = torch.from_numpy(np.array(value, dtype=value.dtype.newbyteorder("=")))  # torch wants native order
            if differentiable and t.is_floating_point():
                t.requires_grad_(True)
            return t
        return value

    def loss(self, name, *args, **kwargs):
        return self.value_and_grad(name, *args, _forward_only=True, **kwargs)

    def module(self, name, **kwargs):
        import torch.nn

        crit = getattr(torch.nn, name)(**{k: self._convert(v, False) for k, v in kwargs.items()})
        return lambda *args: crit(*(self._convert(a, False) for a in args)).detach().numpy()

    def value_and_grad(self, name, *args, grad_output=None, _forward_only=False, **kwargs):
        import inspect

        import torch
        import torch.nn.functional as F

        import fastloss

        fn = getattr(F, name)
        params = list(inspect.signature(getattr(fastloss, name)).parameters)
        differentiable = getattr(fastloss, name).differentiable
        targs = [self._convert(a, params[i] in differentiable) for i, a in enumerate(args)]
        tkw = {k: self._convert(v, k in differentiable) for k, v in kwargs.items()}
        out = fn(*targs, **tkw)
        loss = out.detach().numpy()
        if _forward_only:
            return loss
        go = (torch.ones_like(out) if grad_output is None
              else torch.as_tensor(np.asarray(grad_output)).to(out.dtype).expand_as(out))
        named = {params[i]: t for i, t in enumerate(targs)}
        named.update(tkw)
        wrt = {k: t for k, t in named.items() if isinstance(t, torch.Tensor) and t.requires_grad}
        gs = torch.autograd.grad(out, list(wrt.values()), go, allow_unused=True)
        return loss, {k: (np.zeros(t.shape, dtype=loss.dtype) if g is None else g.numpy())
                      for (k, t), g in zip(wrt.items(), gs)}


class DeviceImpl(FastlossImpl):
    """fastloss on device arrays: NumPy arguments uploaded (in native byte order: device arrays
    have no other), results downloaded. Everything else passes unchanged, as a user would pass
    it: Python scalars, lists of lengths, callables, and arrays of a kind no device array holds
    (strings, objects), which then meet the device arguments as host arrays."""

    def __init__(self, module_name):
        self.name = module_name
        self.xp = importlib.import_module("fastloss._gpu.fakecupy" if module_name == "fakecupy" else module_name)

    def _up(self, value):
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
            return self.xp.asarray(value.astype(value.dtype.newbyteorder("="), copy=False))
        return value

    def _up_kw(self, kwargs):
        return {k: self._up(v) for k, v in kwargs.items()}

    def _down(self, value):
        return self.xp.asnumpy(value) if isinstance(value, self.xp.ndarray) else value

    def loss(self, name, *args, **kwargs):
        return self._down(super().loss(name, *map(self._up, args), **self._up_kw(kwargs)))

    def value_and_grad(self, name, *args, grad_output=None, **kwargs):
        loss, grads = super().value_and_grad(name, *map(self._up, args), grad_output=self._up(grad_output),
                                             **self._up_kw(kwargs))
        return self._down(loss), {k: self._down(g) for k, g in grads.items()}

    def module(self, name, **kwargs):
        crit = super().module(name, **self._up_kw(kwargs))
        return lambda *args: self._down(crit(*map(self._up, args)))


def get():
    if NAME == "torch":
        return TorchImpl()
    if NAME in ("cupy", "fakecupy"):
        return DeviceImpl(NAME)
    if NAME != "fastloss":
        raise ValueError(f"FASTLOSS_SPEC_IMPL={NAME!r}: expected fastloss, cupy, fakecupy or torch")
    return FastlossImpl()


impl = get()
