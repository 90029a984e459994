"""Shared pieces of the benchmark groups: one group per (loss, size), four contenders in it.

``fastloss-forward``, ``fastloss-value_and_grad``, ``torch-forward``, ``torch-forward+backward``
(torch's input tensors require grad only where fastloss is asked for gradients, ``wrt``), plus
``floor`` where a group defines one (NumPy reading the same inputs once: the memory-bandwidth
floor). ``report.py`` turns a saved JSON run into ratios.

Every group runs in float32 and in float64 (groups of the latter end in ``-f64``; scikit-learn
users work in float64). Small calls (microseconds: a single call is lost in a shared machine's
noise) are timed in batches of many calls, and reported as the best batch (``small=True``).
"""
import warnings

import numpy as np
import pytest

import fastloss

CONTENDERS = ("fastloss-forward", "fastloss-value_and_grad", "torch-forward", "torch-forward+backward")
DTYPES = (np.float32, np.float64)

# small calls: BATCHES batches of CALLS calls each, the best batch reported
SMALL_BATCHES = 15
SMALL_CALLS = 200


def group_name(name, dtype):
    """``name`` for float32 (the historical groups), ``name-f64`` for float64."""
    return name if np.dtype(dtype) == np.float32 else f"{name}-f64"


def as_dtype(args, dtype):
    """The floating arrays of ``args`` (a tuple) cast to ``dtype``; index arrays as they are."""
    return tuple(a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args)


def torch_or_skip():
    return pytest.importorskip("torch")


def run_contender(benchmark, contender, loss, args, kwargs, wrt=("input",), floor_arrays=None, small=False):
    """Time one contender on ``args``; ``wrt`` names the arguments differentiated (requires_grad in torch).

    ``small``: a call of microseconds, timed as SMALL_BATCHES batches of SMALL_CALLS calls
    (report.py takes the best batch)."""
    benchmark.extra_info.update(loss=loss, contender=contender, small=small)

    def time(fn):
        if small:
            fn()  # warm-up (first-call imports, caches)
            benchmark.pedantic(fn, rounds=SMALL_BATCHES, iterations=SMALL_CALLS)
        else:
            benchmark(fn)

    if contender == "floor":
        arrays = floor_arrays if floor_arrays is not None else [a for a in args if isinstance(a, np.ndarray)]
        time(lambda: [a.sum() for a in arrays])
        return
    if contender.startswith("fastloss"):
        fn = getattr(fastloss, loss)
        if contender == "fastloss-forward":
            time(lambda: fn(*args, **kwargs))
        else:
            time(lambda: fastloss.value_and_grad(fn, *args, wrt=wrt, **kwargs))
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
        time(forward)
    else:
        leaves = [t for t in tensors if isinstance(t, torch.Tensor) and t.requires_grad]

        def forward_backward():
            out = tfn(*tensors, **tkwargs)
            return torch.autograd.grad(out.sum() if out.ndim else out, leaves)
        time(forward_backward)


def quiet(fn):
    def wrapped(*a, **k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*a, **k)
    return wrapped
