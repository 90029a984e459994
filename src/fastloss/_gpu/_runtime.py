"""The GPU backend's machinery: its CUDA sources, the two runtimes that launch their kernels, and
the launch-shape helpers.

* :class:`DeviceRuntime`: CuPy arrays on a CUDA device. Each family's source is compiled once per
  process with ``cupy.RawModule(code=..., options=..., name_expressions=...)`` at first use (CuPy
  also caches the binary on disk), kernels fetched by name.
* :class:`EmulatedRuntime` (``FASTLOSS_GPU=emulate``): NumPy arrays, the same kernels compiled by
  g++ with the emulation shim (``emulate.h``, see ``_emulate.py``) and run on the CPU.

A family module (``elementwise.py``, ...) takes the runtime of its arrays (:func:`runtime_for`),
allocates its workspaces through it and launches kernels by name with the same argument list on
both. Kernel arguments follow ``common.cuh``'s convention: arrays (or None for a null pointer),
Python ints (passed as 64-bit integers) and floats (passed as doubles).
"""
import itertools
import os
import re
from pathlib import Path

import numpy as np

SOURCE_DIR = Path(__file__).resolve().parent

# kernels every family's module holds (defined in common.cuh)
COMMON_KERNELS = ("fl_finish_sums", "fl_fill_f32", "fl_fill_f64", "fl_vector_sum_f32", "fl_vector_sum_f64")

# NVRTC options of every build (the device architecture is CuPy's choice, or check.py's)
NVRTC_OPTIONS = ("-std=c++17",)

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.M)


def source(family):
    """The family's CUDA source with the project's own headers inlined (``#line`` directives keep
    compiler messages pointing at the real files). Each header is inlined once."""
    path = SOURCE_DIR / f"{family}.cu"
    return expand(path.read_text(), path.name)


def expand(text, name, seen=None):
    """``text`` (a source called ``name``) with its ``#include "..."`` of this folder inlined."""
    seen = set() if seen is None else seen
    out = [f'#line 1 "{name}"\n']
    pos = 0
    for m in _INCLUDE.finditer(text):
        out.append(text[pos:m.start()])
        header = m.group(1)
        if header not in seen:
            seen.add(header)
            out.append(expand((SOURCE_DIR / header).read_text(), header, seen))
        line = text.count("\n", 0, m.end()) + 1
        out.append(f'\n#line {line} "{name}"')
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def kernel_names(family):
    """Every kernel the backend can launch from the family's module (its own and the common ones)."""
    import importlib

    module = importlib.import_module(f"{__package__}.{family}")
    return tuple(module.KERNELS) + COMMON_KERNELS


def suffix(dtype):
    """The entry-point suffix of a compute dtype."""
    return "f32" if np.dtype(dtype) == np.float32 else "f64"


# --- launch shapes -----------------------------------------------------------------------------------

BLOCK = 256          # threads of the elementwise and most row kernels
MAX_BLOCKS = 1024    # grid-stride loops: at most this many blocks (the partial sums' length)
FINISH_BLOCK = 256


def blocks_for(n, block=BLOCK, max_blocks=MAX_BLOCKS):
    """Blocks of a grid-stride loop over ``n`` items (at least 1)."""
    return max(1, min(max_blocks, (int(n) + block - 1) // block))


def team_shape(rows, cols, warp_limit=1024, block=BLOCK):
    """(grid, block, 'warp' | 'block') for a kernel that gives each row a team: a warp per row while
    rows are short (``cols <= warp_limit``), else a whole block (long rows, large vocabularies)."""
    if cols <= warp_limit:
        per_block = block // 32
        return (rows + per_block - 1) // per_block, block, "warp"
    return rows, block, "block"


def element_strides(a):
    """``a``'s strides in elements."""
    return [s // a.itemsize for s in a.strides]


# --- the index-error flag -------------------------------------------------------------------------------

_I64_MAX = np.iinfo(np.int64).max


def index_flag(rt):
    """A one-element device int64 holding the smallest bad index position (none: the largest int64)."""
    return rt.full(1, _I64_MAX, np.int64)


def check_index_flag(rt, flag, argument):
    """Read the flag (the one small synchronisation of a call that checks indices) and raise
    :class:`fastloss._gpu.BadIndex` naming the first bad position."""
    position = int(rt.read(flag)[0])
    if position != _I64_MAX:
        from . import BadIndex

        raise BadIndex(argument, position)


# --- runtimes -------------------------------------------------------------------------------------------

class EmulatedRuntime:
    """NumPy arrays; kernels run on the CPU by the emulation shim."""

    xp = np
    emulated = True

    def __init__(self):
        self._libraries = {}
        self._seeds = itertools.count(int(os.environ.get("FASTLOSS_EMULATE_SEED", "0")) * 1_000_003 + 1)

    def module(self, family):
        lib = self._libraries.get(family)
        if lib is None:
            from . import _emulate

            lib = self._libraries[family] = _emulate.Library.for_family(family)
        return lib

    def launch(self, family, name, grid, block, args, shared=0):
        self.module(family).launch(name, grid, block, args, shared, next(self._seeds))

    def empty(self, shape, dtype):
        return np.empty(shape, dtype=dtype)

    def full(self, shape, value, dtype):
        return np.full(shape, value, dtype=dtype)

    def read(self, array):
        """The (small) array's values on the host."""
        return np.array(array)


class DeviceRuntime:
    """CuPy arrays on the current CUDA device."""

    emulated = False

    def __init__(self, xp=None):
        if xp is None:
            import cupy as xp
        self.xp = xp
        self._modules = {}

    def module(self, family):
        mod = self._modules.get(family)
        if mod is None:
            mod = self._modules[family] = self.xp.RawModule(code=source(family), options=NVRTC_OPTIONS,
                                                            name_expressions=kernel_names(family))
        return mod

    def launch(self, family, name, grid, block, args, shared=0):
        kernel = self.module(family).get_function(name)
        kernel((int(grid),), (int(block),), tuple(self._arg(a) for a in args), shared_mem=int(shared))

    def _arg(self, a):
        if a is None or isinstance(a, self.xp.ndarray):
            return a
        if isinstance(a, (bool, np.bool_, int, np.integer)):
            return np.int64(a)
        if isinstance(a, (float, np.floating)):
            return np.float64(a)
        raise TypeError(f"fastloss GPU backend: unsupported kernel argument {type(a).__name__} (a NumPy array "
                        "among CuPy ones?)")

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype=dtype)

    def full(self, shape, value, dtype):
        return self.xp.full(shape, value, dtype=dtype)

    def read(self, array):
        """The (small) array's values on the host: the one synchronisation a call may make."""
        return self.xp.asnumpy(array)


class FakeDeviceRuntime(DeviceRuntime):
    """The testing aid's device (``fakecupy`` arrays): the device runtime's whole path (kernel
    arguments, results left on the device, explicit reads), its kernels run by the emulation."""

    def __init__(self, fake):
        super().__init__(fake)
        self._emulation = EmulatedRuntime()

    def launch(self, family, name, grid, block, args, shared=0):
        # CuPy's argument checks (_arg), then what the emulation takes: the device buffers' memory
        # (a device pointer, on CuPy) and Python numbers
        args = [a._host if isinstance(a, self.xp.ndarray) else a if a is None else a.item()
                for a in map(self._arg, args)]
        self._emulation.launch(family, name, grid, block, args, shared)


_EMULATED = None
_DEVICE = None
_FAKE_DEVICE = None


def runtime_for(array):
    """The runtime owning ``array``: the device for a CuPy array, the emulation for a NumPy one
    (and the emulated device for the testing aid's ``fakecupy`` arrays)."""
    global _EMULATED, _DEVICE, _FAKE_DEVICE
    if isinstance(array, np.ndarray):
        if _EMULATED is None:
            _EMULATED = EmulatedRuntime()
        return _EMULATED
    if type(array).__module__ == "fastloss._gpu.fakecupy":
        if _FAKE_DEVICE is None:
            from . import fakecupy

            _FAKE_DEVICE = FakeDeviceRuntime(fakecupy)
        return _FAKE_DEVICE
    if _DEVICE is None:
        _DEVICE = DeviceRuntime()
    return _DEVICE
