"""Backend dispatch: NumPy arrays go to the Cython kernels, CuPy arrays to the GPU kernels.

Each loss's semantics (validation, shapes, reductions) are written once, in terms of an array
module ``xp`` and a kernel namespace; this module only answers "which arrays, which kernels".
CuPy is imported lazily and only if the caller already uses it.

``FASTLOSS_GPU=emulate`` (a testing aid) sends NumPy arrays to the GPU kernels too: their
unchanged CUDA sources, compiled for and run on the CPU (see ``fastloss._gpu._emulate``).
"""
import os
import sys

import numpy as np


def cupy_available():
    try:
        import cupy  # noqa: F401
    except Exception:
        return False
    return True


# Modules whose ``ndarray`` is a device array: CuPy, and the testing aid ``fastloss._gpu.fakecupy``
# (CuPy's interface over host memory, kernels emulated on the CPU). Neither is imported here: an
# array can only be one of them if its module is loaded already.
DEVICE_MODULES = ("cupy", "fastloss._gpu.fakecupy")


def device_module(x):
    """The array module (``cupy`` or the fake) of a device array ``x``; None for anything else."""
    if type(x) is np.ndarray:
        return None
    for name in DEVICE_MODULES:
        module = sys.modules.get(name)
        if module is not None and isinstance(x, module.ndarray):
            return module
    return None


def _is_cupy(x):
    return device_module(x) is not None


def array_module(x):
    """``cupy`` for CuPy arrays (the fake module for its arrays), ``numpy`` for everything else."""
    return device_module(x) or np


def to_host(x):
    """``x`` as a host (NumPy) value: a device array is copied, explicitly (one synchronisation).

    The loss layer's only way to the host: every use is a documented read (lengths, a scalar
    grad_output, a mean's denominator, an error path), never a hidden ``float()``."""
    module = device_module(x)
    return x if module is None else module.asnumpy(x)


def check_same_backend(arrays):
    """Refuse a mix of host and device arrays, as torch refuses tensors on different devices."""
    if not any(name in sys.modules for name in DEVICE_MODULES):
        return
    kinds = {name: _is_cupy(a) for name, a in arrays.items() if a is not None and hasattr(a, "dtype")}
    if len(set(kinds.values())) > 1:
        gpu = [n for n, k in kinds.items() if k]
        cpu = [n for n, k in kinds.items() if not k]
        raise TypeError(f"arguments live on different devices: {', '.join(gpu)} on the GPU (CuPy), "
                        f"{', '.join(cpu)} on the host (NumPy); move them to one device (cupy.asarray or "
                        f"cupy.asnumpy): torch raises for tensors on different devices too")


_CPU_KERNELS = {}


_EMULATE_VAR = "FASTLOSS_GPU"
_EMULATE_KEY = os.environ.encodekey(_EMULATE_VAR) if hasattr(os.environ, "encodekey") else _EMULATE_VAR


def gpu_emulated():
    """True when ``FASTLOSS_GPU=emulate``: NumPy arrays run the GPU kernels on the CPU."""
    # Read at every call (tests switch it at run time). os.environ.get raises and catches a
    # KeyError when the variable is unset, a microsecond per loss call: CPython's mapping under
    # os.environ answers that common case first.
    data = getattr(os.environ, "_data", None)
    if data is not None and _EMULATE_KEY not in data:
        return False
    return os.environ.get(_EMULATE_VAR, "") == "emulate"


def kernels(module_name, *arrays):
    """The kernel module ``module_name`` (e.g. ``'elementwise'``) of the backend that owns ``arrays``."""
    if any(_is_cupy(a) for a in arrays if a is not None) or gpu_emulated():
        from . import _gpu

        return _gpu.kernels(module_name)
    module = _CPU_KERNELS.get(module_name)
    if module is None:
        from . import _cpu

        module = _CPU_KERNELS[module_name] = _cpu.kernels(module_name)
    return module


_SPECIALISED = {}
_FUSED_NAMES = {"f": "float", "d": "double"}


def cpu_kernel(module_name, kernel_name, dtype):
    """The CPU kernel ``kernel_name`` of ``module_name`` specialised for ``dtype`` (float32 or
    float64), for the common case's fast paths: a fused-type kernel called as is makes Cython
    inspect every argument to choose its specialisation, on every call. None while NumPy arrays
    go to the GPU kernels (``FASTLOSS_GPU=emulate``) or for another dtype."""
    if gpu_emulated() or dtype.char not in _FUSED_NAMES:
        return None
    key = (module_name, kernel_name, dtype.char)
    kernel = _SPECIALISED.get(key)
    if kernel is None:
        kernel = getattr(kernels(module_name), kernel_name)
        signatures = getattr(kernel, "__signatures__", None)  # a kernel of one dtype has none
        kernel = _SPECIALISED[key] = signatures[_FUSED_NAMES[dtype.char]] if signatures else kernel
    return kernel
