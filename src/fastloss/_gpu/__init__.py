"""The GPU backend: CUDA C++ kernels (``*.cu``, ``common.cuh``) launched through CuPy.

Each loss's semantics live once, in ``fastloss._losses``; this package implements only its
kernels. :func:`kernels` returns, for a family (``'elementwise'``, ``'classification'``,
``'margin'``, ``'embedding'``, ``'ctc'``), a namespace with the same functions, arguments and
results as the CPU kernel module ``fastloss._cpu.<family>``; their bodies launch CUDA kernels.

* CuPy arrays run on the device: each family's source is compiled once per process by
  ``cupy.RawModule`` (NVRTC) at first use (``_runtime.py``).
* ``FASTLOSS_GPU=emulate`` sends NumPy arrays here too: the unchanged kernels are compiled by g++
  with the emulation shim ``emulate.h`` and run on the CPU (``_emulate.py``), a testing aid.
* ``fastloss._gpu.fakecupy`` (a testing aid): CuPy's array interface over host memory; its arrays
  take the loss layer's device path (kernels emulated) and refuse implicit host conversions.
* ``python -m fastloss._gpu.check`` compiles every kernel instantiation with NVRTC for sm_80
  and sm_90 (no GPU needed).

CuPy is optional: nothing here is imported unless a CuPy array (or the emulation) asks for it.
"""
import importlib

FAMILIES = ("elementwise", "classification", "margin", "embedding", "ctc")


class BadIndex(IndexError):
    """An index argument held a value out of range, found on the device.

    ``position``: the flat position (C order) of the first bad entry of the argument the kernel
    checks. The caller (the ``_losses`` layer) turns it into its own error message.
    """

    def __init__(self, argument, position):
        super().__init__(f"{argument}: entry {position} is out of range")
        self.argument = argument
        self.position = position


def kernels(family):
    """The GPU kernel namespace of ``family`` (same functions as ``fastloss._cpu.<family>``)."""
    if family not in FAMILIES:
        raise NotImplementedError(f"fastloss: the GPU backend has no {family} kernels yet")
    return importlib.import_module(f"{__name__}.{family}")
