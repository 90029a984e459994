"""Thread-count policy shared by every OpenMP kernel.

The team size of a kernel call is, in order of precedence: the value given to
:func:`set_num_threads`, the ``FASTLOSS_NUM_THREADS`` environment variable read at import, or
OpenMP's own default (``omp_get_max_threads``, which is also what threadpoolctl limits). fastloss
never changes OpenMP's default: each kernel passes its team size explicitly, so torch's thread
count (and every other OpenMP user's) is left alone.

In a process forked after fastloss ran a team of more than one thread, every kernel runs on one
thread (GNU libgomp's thread pool does not survive ``fork()``: see ``fastloss._cpu.threads``).
"""
import os
import warnings

from ._cpu import threads as _omp

_explicit = 0   # set_num_threads's value; 0: none
_env = 0        # FASTLOSS_NUM_THREADS; 0: unset (or invalid)


def _parse(value, source):
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a positive integer, got {value!r}") from None
    if isinstance(value, bool) or n < 1 or (not isinstance(value, str) and n != value):
        raise ValueError(f"{source} must be a positive integer, got {value!r}")
    return n


def set_num_threads(n):
    """Use ``n`` threads in every fastloss kernel from now on (``n >= 1``).

    Only fastloss's own kernels: OpenMP's default team size (torch's, threadpoolctl's) is not
    changed. In a process forked after fastloss ran a team of more than one thread, its kernels
    stay on one thread (GNU libgomp's pool does not survive ``fork()``; a larger team would hang):
    ``n`` is recorded, and ``n > 1`` gives a RuntimeWarning that says so.
    """
    global _explicit
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _explicit = _parse(n, "set_num_threads: n")
    if _explicit > 1 and _omp.forked_serial():
        warnings.warn(f"fastloss: this process was forked after fastloss ran a team of threads; GNU libgomp's "
                      f"thread pool does not survive fork(), so fastloss's kernels run on one thread here "
                      f"({_explicit} requested)", RuntimeWarning, stacklevel=2)


def get_num_threads():
    """The number of threads fastloss's kernels use: the value given to :func:`set_num_threads`,
    else ``FASTLOSS_NUM_THREADS``, else OpenMP's default (``omp_get_max_threads``: what
    threadpoolctl limits); 1 in a process forked after fastloss ran a team of threads."""
    return _omp.team_size(_explicit or _env, False)


def kernel_threads():
    """:func:`get_num_threads` for a kernel about to run (a team of more than one thread is
    recorded: a process forked after it runs its kernels serially)."""
    return _omp.team_size(_explicit or _env, True)


def has_openmp():
    """True when the compiled kernels run in parallel (the build found OpenMP)."""
    return _omp.has_openmp()


def _read_environment():
    global _env
    value = os.environ.get("FASTLOSS_NUM_THREADS")
    if not value:
        return
    try:
        _env = _parse(value.strip(), "FASTLOSS_NUM_THREADS")
    except ValueError:
        warnings.warn(f"FASTLOSS_NUM_THREADS={value!r} is not a positive integer; ignored (fastloss uses "
                      f"OpenMP's default, {_omp.openmp_max_threads()} threads)", RuntimeWarning, stacklevel=2)


_read_environment()
