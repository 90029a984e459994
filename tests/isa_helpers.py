"""Running the CPU kernels of one ISA variant (FASTLOSS_ISA) within a test.

The kernel modules and the entry points taken from them are cached on first use: the backend's
modules and fused specialisations, and the compiled common cases. Setting FASTLOSS_ISA alone
changes none of them, so a switch starts all three empty (monkeypatch restores them after the test)."""
from fastloss import _backend
from fastloss._losses import _common

VARIANT_SUFFIXES = ("_avx2", "_avx512")


def use_isa(monkeypatch, isa):
    """From here on, the test's calls run the kernels of ``isa`` ('baseline', 'avx2', 'avx512')."""
    monkeypatch.setenv("FASTLOSS_ISA", isa)
    monkeypatch.setattr(_backend, "_CPU_KERNELS", {})
    monkeypatch.setattr(_backend, "_SPECIALISED", {})
    monkeypatch.setattr(_common, "_COMMON_CASES", {})


def kernel_modules_in_use():
    """The names of the CPU kernel modules whose code the cached entry points run."""
    return ({m.__name__ for m in _backend._CPU_KERNELS.values()}
            | {k.__module__ for k in _backend._SPECIALISED.values()}
            | {e.func.__module__ for e in _common._COMMON_CASES.values()})


def is_module_of(name, isa):
    """Whether the kernel module ``name`` is the ``isa`` variant."""
    return not name.endswith(VARIANT_SUFFIXES) if isa == "baseline" else name.endswith("_" + isa)
