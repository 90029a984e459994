"""Shared pieces of the benchmark groups: one group per (loss, size), four contenders in it.

``fastloss-forward``, ``fastloss-value_and_grad``, ``torch-forward``, ``torch-forward+backward``
(torch's input tensors require grad only where fastloss is asked for gradients, ``wrt``), plus
``floor`` where a group defines one (NumPy reading the same inputs once: the memory-bandwidth
floor). ``report.py`` turns a saved JSON run into ratios.
"""
import warnings

import numpy as np
import pytest

import fastloss

CONTENDERS = ("fastloss-forward", "fastloss-value_and_grad", "torch-forward", "torch-forward+backward")


def torch_or_skip():
    return pytest.importorskip("torch")


def run_contender(benchmark, contender, loss, args, kwargs, wrt=("input",), floor_arrays=None):
    """Time one contender on ``args``; ``wrt`` names the arguments differentiated (requires_grad in torch)."""
    benchmark.extra_info.update(loss=loss, contender=contender)
    if contender == "floor":
        arrays = floor_arrays if floor_arrays is not None else [a for a in args if isinstance(a, np.ndarray)]
        benchmark(lambda: [a.sum() for a in arrays])
        return
    if contender.startswith("fastloss"):
        fn = getattr(fastloss, loss)
        if contender == "fastloss-forward":
            benchmark(fn, *args, **kwargs)
        else:
            benchmark(lambda: fastloss.value_and_grad(fn, *args, wrt=wrt, **kwargs))
        return
    torch = torch_or_skip()
    import inspect

    names = list(inspect.signature(getattr(fastloss, loss)).parameters)
    tensors = []
    for name, a in zip(names, args):
        if isinstance(a, np.ndarray):
            t = torch.from_numpy(a)
            if contender == "torch-forward+backward" and name in wrt:
                t.requires_grad_(True)
            tensors.append(t)
        else:
            tensors.append(a)
    tkwargs = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    tfn = getattr(torch.nn.functional, loss)
    if contender == "torch-forward":
        def forward():
            with torch.no_grad():
                return tfn(*tensors, **tkwargs)
        benchmark(forward)
    else:
        leaves = [t for t in tensors if isinstance(t, torch.Tensor) and t.requires_grad]

        def forward_backward():
            out = tfn(*tensors, **tkwargs)
            return torch.autograd.grad(out.sum() if out.ndim else out, leaves)
        benchmark(forward_backward)


def quiet(fn):
    def wrapped(*a, **k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*a, **k)
    return wrapped
