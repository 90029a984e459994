"""Thread-count policy shared by every OpenMP kernel.

The team size of a kernel call is, in order of precedence: the value given to
:func:`set_num_threads`, the ``FASTLOSS_NUM_THREADS`` environment variable read at import, or
OpenMP's own default (``omp_get_max_threads``, which is also what threadpoolctl limits).
``set_num_threads`` also sets OpenMP's default, so threadpoolctl reports the same number.
"""
import os

from ._cpu import threads as _omp

_explicit = None


def _parse(value, source):
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a positive integer, got {value!r}") from None
    if isinstance(value, bool) or n < 1 or (not isinstance(value, str) and n != value):
        raise ValueError(f"{source} must be a positive integer, got {value!r}")
    return n


def set_num_threads(n):
    """Use ``n`` threads in every OpenMP kernel from now on (``n >= 1``)."""
    global _explicit
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _explicit = _parse(n, "set_num_threads: n")
    _omp.openmp_set_num_threads(_explicit)


def get_num_threads():
    """The number of threads the next kernel call will use."""
    if _explicit is not None:
        return _explicit
    return _omp.openmp_max_threads()


def has_openmp():
    """True when the compiled kernels run in parallel (the build found OpenMP)."""
    return _omp.has_openmp()


_env = os.environ.get("FASTLOSS_NUM_THREADS")
if _env:
    set_num_threads(_parse(_env, "FASTLOSS_NUM_THREADS"))
