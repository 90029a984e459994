"""The Cython/OpenMP kernels. Kernels never validate: the Python layer above has checked
every shape, dtype and index before calling them.

Each kernel module may also exist as an instruction-set variant (``<name>_avx2``, built from
the same source, see setup.py). :func:`kernels` returns the best variant this CPU runs;
``FASTLOSS_ISA=baseline`` (or ``avx2``) forces one, for testing and comparisons.
"""
import importlib
import os


def best_isa():
    """'avx2' where the CPU and the build have it, else 'baseline' (``FASTLOSS_ISA`` overrides)."""
    forced = os.environ.get("FASTLOSS_ISA", "").strip().lower()
    if forced in ("baseline", "avx2"):
        return forced
    from .isa import has_avx2

    return "avx2" if has_avx2() else "baseline"


def kernels(module_name, isa=None):
    """The kernel module ``module_name`` for ``isa`` (default: :func:`best_isa`)."""
    isa = isa or best_isa()
    if isa != "baseline":
        try:
            return importlib.import_module(f"{__name__}.{module_name}_{isa}")
        except ImportError:
            pass  # a build without ISA variants (non-x86, FASTLOSS_NATIVE, other compilers)
    return importlib.import_module(f"{__name__}.{module_name}")
