"""A stand-in for CuPy that needs no GPU: **a testing aid**, never a backend to use.

Importing this module makes its :class:`ndarray` a *device array* for fastloss: the loss layer
treats it exactly as a ``cupy.ndarray`` (``_backend.array_module`` returns this module, the
same ``xp``-dispatch decisions, the GPU kernel wrappers, BadIndex, the mixed-device refusal),
and its kernels run on the CPU through the CUDA emulation (``_emulate.py``, needs g++). So the
device path of every loss is exercised on a machine without a GPU.

What it proves: the device path never converts to the host behind the caller's back. Every
implicit host conversion raises :class:`ImplicitTransfer`: ``float()``, ``int()``,
``operator.index()``, ``bool()``, ``.item()``, ``.tolist()``, iteration, ``np.asarray(a)``
(CuPy itself refuses ``np.asarray`` with a TypeError; it allows the others, each a
synchronisation). The only way to the host is explicit, :func:`asnumpy` or ``a.get()``, and each
call is counted in :data:`transfers` (a test pins how many a loss call makes).

It mirrors CuPy's API and semantics where the loss layer relies on them: only functions CuPy
has (a NumPy function CuPy lacks, reached through ``__array_function__``, is a TypeError, as
with CuPy), reductions return 0-d arrays rather than scalars, indexing returns 0-d arrays, a
NumPy array is refused as an operand of device operations (upload it with :func:`asarray`),
and floating-point errors never warn. The data lives in a private NumPy array (``_host``),
which only this module and the emulated kernel launcher touch.
"""
import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["ndarray", "ImplicitTransfer", "asnumpy", "asarray", "transfers", "reset_transfers"]

transfers = 0  # explicit device-to-host copies (asnumpy, get) since the last reset_transfers()


class ImplicitTransfer(TypeError):
    """A device array was converted to the host implicitly (a hidden synchronisation on CuPy)."""


def reset_transfers():
    global transfers
    transfers = 0


def _implicit(what):
    raise ImplicitTransfer(f"fakecupy: implicit device-to-host conversion ({what}); on CuPy this synchronises "
                           f"(or fails). Use fastloss._backend.to_host() for a deliberate transfer")


def _refuse_host(values):
    for v in values:
        if isinstance(v, np.ndarray):
            # CuPy's kernels refuse NumPy operands ("Unsupported type <class 'numpy.ndarray'>")
            raise TypeError("fakecupy: a NumPy array among device operands (CuPy refuses it): upload it with "
                            "asarray() first")
        if isinstance(v, (list, tuple)):
            _refuse_host(v)


def _unwrap(v):
    if isinstance(v, ndarray):
        return v._host
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(x) for x in v)
    return v


def _wrap(v):
    if isinstance(v, np.ndarray):
        return ndarray(v)
    if isinstance(v, np.generic):  # CuPy's reductions and indexing give 0-d arrays, never scalars
        return ndarray(np.asarray(v))
    if isinstance(v, tuple):
        return tuple(_wrap(x) for x in v)
    return v


def _call(fn, args, kwargs):
    _refuse_host(args)
    _refuse_host(kwargs.values())
    with np.errstate(all="ignore"):  # CuPy never warns about floating-point errors
        return _wrap(fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))


class ndarray(NDArrayOperatorsMixin):
    """A device array: CuPy's ndarray interface over a private NumPy buffer."""

    __slots__ = ("_host",)

    def __init__(self, host):
        if not isinstance(host, np.ndarray):
            raise TypeError("fakecupy.ndarray wraps a NumPy array; create arrays with fakecupy.asarray/empty/...")
        self._host = host

    # metadata (no data transfer)
    shape = property(lambda self: self._host.shape)
    dtype = property(lambda self: self._host.dtype)
    ndim = property(lambda self: self._host.ndim)
    size = property(lambda self: self._host.size)
    strides = property(lambda self: self._host.strides)
    itemsize = property(lambda self: self._host.itemsize)
    nbytes = property(lambda self: self._host.nbytes)
    flags = property(lambda self: self._host.flags)
    T = property(lambda self: ndarray(self._host.T))

    def __len__(self):
        return len(self._host)

    def __repr__(self):
        return f"fakecupy.{self._host!r}"

    # NumPy protocols: ufuncs and the functions CuPy implements run "on the device"
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        result = _call(getattr(ufunc, method), inputs, kwargs)
        return out[0] if out is not None and len(out) == 1 else result

    def __array_function__(self, func, types, args, kwargs):
        impl = _FUNCTIONS.get(func.__name__)
        if impl is None:
            return NotImplemented  # NumPy raises TypeError, as for a function CuPy does not implement
        return impl(*args, **kwargs)

    def __array__(self, dtype=None, copy=None):
        _implicit("np.asarray / np.array; CuPy raises TypeError here too")

    # implicit conversions: all refused
    def __float__(self):
        _implicit("float()")

    def __int__(self):
        _implicit("int()")

    def __index__(self):
        _implicit("operator.index()")

    def __bool__(self):
        _implicit("bool(): an `if` or `and` on a device value")

    def __complex__(self):
        _implicit("complex()")

    def __iter__(self):
        _implicit("iteration")

    def item(self, *args):
        _implicit(".item()")

    def tolist(self):
        _implicit(".tolist()")

    def get(self):
        """The data on the host: an explicit (counted) transfer, as ``cupy.ndarray.get``."""
        return asnumpy(self)

    # views and elementwise methods: results stay on the device
    def __getitem__(self, key):
        return _call(lambda a, k: a[k], (self, key), {})

    def __setitem__(self, key, value):
        _refuse_host((key, value))
        with np.errstate(all="ignore"):
            self._host[_unwrap(key)] = _unwrap(value)

    def _method(name):
        def method(self, *args, **kwargs):
            return _call(getattr(np.ndarray, name), (self,) + args, kwargs)

        method.__name__ = name
        return method

    for _name in ("reshape", "astype", "view", "copy", "transpose", "ravel", "squeeze", "swapaxes", "sum", "max",
                  "min", "mean", "prod", "any", "all", "argmax", "argmin", "cumsum", "clip", "fill", "dot"):
        locals()[_name] = _method(_name)
    del _name, _method


def asnumpy(a):
    """``a`` copied to the host (a NumPy array): the explicit transfer, counted in :data:`transfers`."""
    global transfers
    if isinstance(a, ndarray):
        transfers += 1
        return a._host.copy()
    return np.asarray(a)


def asarray(a, dtype=None, order=None):
    """``a`` on the device: a device array as it is (cast if ``dtype`` differs), host data uploaded."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == np.dtype(dtype) else a.astype(dtype)
    return ndarray(np.array(a, dtype=dtype, order=order or "K", copy=True))


def array(a, dtype=None, copy=True, order="K"):
    if isinstance(a, ndarray):
        return ndarray(np.array(a._host, dtype=dtype, copy=copy, order=order))
    return ndarray(np.array(a, dtype=dtype, order=order, copy=True))


def _creation(name):
    fn = getattr(np, name)

    def create(*args, **kwargs):
        return _call(fn, args, kwargs)

    create.__name__ = name
    return create


def _function(name):
    fn = getattr(np, name)

    def function(*args, **kwargs):
        return _call(fn, args, kwargs)

    function.__name__ = name
    return function


class _StrideTricks:
    @staticmethod
    def as_strided(x, shape=None, strides=None):
        """``cupy.lib.stride_tricks.as_strided`` (no ``writeable`` argument in CuPy)."""
        return _call(lambda a: np.lib.stride_tricks.as_strided(a, shape, strides), (x,), {})


class _Lib:
    stride_tricks = _StrideTricks()


lib = _Lib()

# dtypes and constants (CuPy re-exports NumPy's)
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int32, int64, uint64, bool_ = np.int8, np.int32, np.int64, np.uint64, np.bool_
dtype = np.dtype
inf, nan, pi = np.inf, np.nan, np.pi
result_type = np.result_type  # dtypes only: host metadata in CuPy too

# every name here exists in CuPy with NumPy's meaning (tests/test_gpu_fakecupy.py checks the names)
_CREATION = ("empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like", "full_like", "arange")
_FUNCTION_NAMES = ("ascontiguousarray", "broadcast_to", "moveaxis", "where", "maximum", "minimum", "isnan",
                   "isfinite", "isinf", "sum", "prod", "count_nonzero", "cumsum", "searchsorted", "clip", "copyto",
                   "argsort", "argmax", "unravel_index", "array_equal", "sqrt", "exp", "log", "abs", "sign",
                   "reshape", "transpose", "concatenate", "stack", "take", "any", "all", "ndim", "shape",
                   "reciprocal", "squeeze", "expand_dims", "empty_like", "zeros_like", "ones_like", "full_like")
for _n in _CREATION:
    globals()[_n] = _creation(_n)
for _n in _FUNCTION_NAMES:
    if _n not in globals():
        globals()[_n] = _function(_n)
del _n


def ndim(a):
    return a.ndim if isinstance(a, ndarray) else np.ndim(a)


def shape(a):
    return a.shape if isinstance(a, ndarray) else np.shape(a)


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, ndarray):
        _refuse_host((a,))
        return asarray(a, dtype)
    return ndarray(np.ascontiguousarray(a._host, dtype=dtype))


_FUNCTIONS = {n: globals()[n] for n in _CREATION + _FUNCTION_NAMES + ("asarray", "array")}
