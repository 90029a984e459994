"""The Cython/OpenMP kernels. Kernels never validate: the Python layer above has checked
every shape, dtype and index before calling them.

Each kernel module may also exist as instruction-set variants (``<name>_avx2``,
``<name>_avx512``, built from the same source, see setup.py). :func:`kernels` returns the best
variant this CPU runs; ``FASTLOSS_ISA=baseline`` (or ``avx2``, ``avx512``) forces one, for testing
and comparisons.
"""
import importlib
import os

ISAS = ("baseline", "avx2", "avx512")


def best_isa():
    """The widest ISA this CPU runs: 'avx512', 'avx2' or 'baseline' (``FASTLOSS_ISA`` overrides)."""
    forced = os.environ.get("FASTLOSS_ISA", "").strip().lower()
    if forced in ISAS:
        return forced
    from .isa import has_avx2, has_avx512

    return "avx512" if has_avx512() else "avx2" if has_avx2() else "baseline"


def kernels(module_name, isa=None):
    """The kernel module ``module_name`` for ``isa`` (default: :func:`best_isa`)."""
    isa = isa or best_isa()
    # From the requested ISA down: a build may lack variants (non-x86, FASTLOSS_NATIVE, other compilers).
    for candidate in reversed(ISAS[1:ISAS.index(isa) + 1]):
        try:
            return importlib.import_module(f"{__name__}.{module_name}_{candidate}")
        except ImportError:
            pass
    return importlib.import_module(f"{__name__}.{module_name}")
