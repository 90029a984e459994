"""Argument coercion and checking, shared by every loss.

Everything a kernel relies on is established here, once, with vectorised NumPy (never a Python
loop over elements): arrays are coerced without copying when they are already usable, floating
dtypes are resolved (float16 computed in float32), shapes are checked and broadcast, index
arguments are range-checked. Errors name the argument and the offending value:
``ValueError`` for shapes, values and options, ``TypeError`` for dtypes and argument types,
``IndexError`` for an index out of range.
"""
import numbers
import warnings

import numpy as np

from . import _backend

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_FLOAT_SET = frozenset(FLOAT_DTYPES)  # membership by hash: the cheapest dtype test
_FLOAT32 = np.dtype(np.float32)
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)

# The only array arguments a loss may omit (None): torch's optional weights.
OPTIONAL_ARRAYS = frozenset({"weight", "pos_weight"})


def as_array(x, name):
    """``x`` as a NumPy (or CuPy) array, sharing memory where possible.

    Accepts arrays of any layout, Python scalars and sequences, and torch tensors (moved to the
    CPU if needed). A non-native byte order is converted (the kernels read native numbers),
    which is the only copy made here. ``None`` (a missing required argument), ragged sequences,
    non-numeric data and a torch tensor that requires grad raise a TypeError naming ``name``.
    """
    if type(x) is np.ndarray and x.dtype.isnative and x.dtype.kind in "fiub":
        return x  # the common case, first and cheap
    if x is None:
        raise TypeError(f"{name} is required: expected an array, got None")
    if _backend.array_module(x) is not np:
        return x
    if _is_torch_tensor(x):
        if x.requires_grad:
            raise RequiresGradError(name)
        if x.device.type == "cuda" and _backend.cupy_available():
            import cupy

            return cupy.asarray(x)
        if str(x.dtype) == "torch.bfloat16":
            raise TypeError(f"{name}: dtype bfloat16 is not supported (NumPy has no bfloat16); convert it to float32")
        x = x.cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # e.g. ragged sequences
        raise TypeError(f"{name}: cannot convert {type(x).__name__} to an array ({exc})") from None
    if arr.dtype.kind == "O":
        raise TypeError(f"{name}: expected a numeric array, got dtype object from {type(x).__name__}")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


class RequiresGradError(TypeError):
    """A torch tensor that requires grad, given to the NumPy API (which would silently detach it).

    ``loss`` is filled in by the public wrapper of the loss (see ``_autograd.loss_function``),
    so that the message names the bridge function to use instead.
    """

    def __init__(self, name, loss=None):
        super().__init__(name)
        self.name = name
        self.loss = loss

    def __str__(self):
        bridge = f"fastloss.torch.{self.loss}" if self.loss else "the fastloss.torch bridge"
        return (f"{self.name} is a torch tensor with requires_grad=True: the NumPy API would detach it and its "
                f"gradient would be lost. Use {bridge} for autograd, or pass {self.name}.detach() to compute "
                f"the value only")


def _is_torch_tensor(x):
    return type(x).__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "numpy")


def check_floating(arr, name):
    """Refuse non-floating arrays for arguments torch requires to be floating point."""
    if arr.dtype not in _FLOAT_SET:
        raise TypeError(f"{name} must be a floating-point array (float16, float32 or float64), got dtype {arr.dtype}")
    return arr


def result_dtype(arrays, zero_dim_promotes=False):
    """The floating dtype of the result: torch's type promotion among the floating arguments.

    ``arrays``: the arrays that take part (None for absent ones). As in torch, a 0-d array does
    not promote arrays with dimensions (``kl_div(float32 (N, C), float64 0-d)`` is float32),
    unless ``zero_dim_promotes`` (losses that broadcast their operands before computing: l1,
    mse, smooth_l1); integer and bool arrays follow the floating ones; with no floating array
    the result is float32 (torch's default dtype).
    """
    first = None
    mixed = False
    for a in arrays:
        if a is not None and a.dtype.kind == "f":
            if first is None:
                first = a.dtype
            elif a.dtype != first:
                mixed = True
    if first is None:
        return _FLOAT32
    if not mixed:
        return first  # the common case: one floating dtype
    floats = [a for a in arrays if a is not None and a.dtype.kind == "f"]
    if not zero_dim_promotes:
        dimensioned = [a for a in floats if a.ndim]
        floats = dimensioned or floats
    return np.result_type(*(a.dtype for a in floats))


def compute_dtype(dtype):
    """float16 is computed in float32; float32 and float64 natively."""
    return _FLOAT32 if dtype.itemsize == 2 else dtype


def cast(arr, dtype):
    """``arr`` as ``dtype`` without a copy when it already is."""
    return arr if arr.dtype == dtype else arr.astype(dtype)


def float_operands(named, allow_integer=(), promote=None, zero_dim_promotes=False):
    """Coerce floating operands and find the dtype to compute in.

    ``named``: ``{name: value}``; ``None`` stands for an absent optional argument (weight,
    pos_weight; any other name is required). Names listed in ``allow_integer`` may be integer or
    bool arrays (torch promotes them); the rest must be floating. The result dtype is torch's
    promotion (:func:`result_dtype`) among the names in ``promote`` (default: all); the others
    are cast to it, as torch computes e.g. huber_loss in the input's dtype whatever the target's.
    A Python scalar (float, int, bool) never promotes: ``mse_loss(float32 array, 0.5)`` is float32.
    Returns ``(arrays, originals, result_dtype, compute_dtype)``: ``arrays`` maps each name to an
    array cast to the compute dtype, ``originals`` to the coerced but uncast array (gradients take
    its shape and dtype); ``None`` stays ``None``.
    """
    arrays = {}
    deciding = []
    for name, value in named.items():
        if value is None and name in OPTIONAL_ARRAYS:
            arrays[name] = None
            continue
        arr = as_array(value, name)
        if arr.dtype not in _FLOAT_SET:  # the common case (a supported floating dtype) checks nothing more
            kind = arr.dtype.kind
            if kind == "f" or name not in allow_integer:
                check_floating(arr, name)
            elif kind not in "biu":
                raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
        arrays[name] = arr
        if (promote is None or name in promote) and type(value) not in _PYTHON_SCALARS:
            deciding.append(arr)
    out_dtype = result_dtype(deciding, zero_dim_promotes)
    work = compute_dtype(out_dtype)
    _backend.check_same_backend(arrays)
    cast_arrays = {k: (a if a is None or a.dtype == work else a.astype(work)) for k, a in arrays.items()}
    return cast_arrays, arrays, out_dtype, work


_PYTHON_SCALARS = (float, int, bool)


def broadcast_shape(shapes, names):
    """The broadcast shape of ``shapes`` or a ValueError naming the arguments."""
    first = tuple(shapes[0])
    for shape in shapes[1:]:
        if tuple(shape) != first:
            break
    else:
        return first  # all equal (the common case): NumPy's broadcast_shapes costs a microsecond
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        desc = ", ".join(f"{n}.shape={tuple(s)}" for n, s in zip(names, shapes))
        raise ValueError(f"shapes cannot be broadcast together: {desc}") from None


def warn_if_sizes_differ(input, target, stacklevel=4):
    """torch's warning when an elementwise loss broadcasts its target against its input."""
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({tuple(target.shape)}) that is different to the input size "
            f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            UserWarning,
            stacklevel=stacklevel,
        )


def check_class_weight_dtype(weight, input, loss_name):
    """torch's class-weight rule of nll_loss, class-index cross_entropy and multi_margin_loss: the
    weight has the input's dtype exactly (no promotion, no cast), else a TypeError naming both."""
    if weight.dtype != input.dtype:
        raise TypeError(f"{loss_name}: weight.dtype={weight.dtype} must equal input.dtype={input.dtype} "
                        f"(a class weight is not promoted or cast to the input's dtype)")


def check_same_shape(a, b, name_a, name_b, loss_name=None, why=None):
    """``b`` has ``a``'s shape, or a ValueError naming both (prefixed by the loss, with torch's reason)."""
    if tuple(a.shape) != tuple(b.shape):
        prefix = f"{loss_name}: " if loss_name else ""
        suffix = f" ({why})" if why else ""
        raise ValueError(f"{prefix}{name_b}.shape={tuple(b.shape)} must equal {name_a}.shape={tuple(a.shape)}{suffix}")


def check_ndim(arr, name, allowed):
    if arr.ndim not in allowed:
        want = " or ".join(str(d) for d in allowed)
        raise ValueError(f"{name} must have {want} dimensions, got {arr.ndim} (shape {tuple(arr.shape)})")


def check_real(value, name):
    """Refuse (TypeError) a hyper-parameter that is not a real number: complex numbers (also with a
    zero imaginary part), strings, None, bools. A 0-d real array is accepted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if getattr(value, "shape", None) == () and not isinstance(value, (str, numbers.Complex)):
            try:
                float(value)
                return
            except OverflowError:
                return  # a real number beyond a double: as_float's ValueError
            except TypeError:
                pass  # e.g. a 0-d complex array
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")


def as_float(value, name, *, minimum=None, strict_minimum=False):
    """A Python float hyper-parameter (margin, beta, eps, ...), range-checked."""
    if type(value) is not float:  # a float needs neither check nor conversion
        check_real(value, name)
        try:
            value = float(value)
        except OverflowError:
            raise ValueError(f"{name}={value!r} is out of the range of a float") from None
    if minimum is not None:
        if strict_minimum and not value > minimum:
            raise ValueError(f"{name} must be greater than {minimum}, got {value!r}")
        if not strict_minimum and not value >= minimum:
            raise ValueError(f"{name} must be non-negative, got {value!r}" if minimum == 0
                             else f"{name} must be at least {minimum}, got {value!r}")
    return value


def as_int(value, name):
    """A Python int hyper-parameter (ignore_index, blank, p, ...) within int64, as torch's int arguments."""
    if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
        return value  # the common case, first and cheap
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if hasattr(value, "__index__") and not isinstance(value, bool):
            value = value.__index__()
        else:
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"{name}={value} is out of the range of a 64-bit integer")
    return value


def as_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def index_array(x, name):
    """An integer index argument (class targets, lengths) as an int64 array; any integer dtype."""
    arr = as_array(x, name)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.dtype != np.int64:
        if arr.dtype == np.uint64 and arr.size:
            top = _backend.to_host(arr.max())  # a rare dtype: one read for a device array
            if top > np.iinfo(np.int64).max:
                raise IndexError(f"{name} holds {int(top)}, which is out of range")
        arr = arr.astype(np.int64)
    return arr


# Up to this many entries, Python's min/max over ``tolist()`` beat NumPy's reductions (each costs
# about a microsecond to start).
_SMALL_INDEX = 64


def index_bounds(index):
    """``(min, max)`` of a non-empty integer array, as Python ints."""
    if index.size <= _SMALL_INDEX:
        values = index.ravel().tolist()
        return min(values), max(values)
    return int(index.min()), int(index.max())


def check_index_range(index, name, low, high, ignore=None):
    """Every entry of ``index`` (except ``ignore``) in ``[low, high)``; IndexError names the first bad one.

    Host arrays only: a device array's indices are checked by the GPU kernels, whose
    :class:`~fastloss._gpu.BadIndex` the caller turns into this same error (:func:`device_index_error`)."""
    if index.size == 0:
        return
    lo, hi = index_bounds(index)
    if low <= lo and hi < high:
        return  # the common case, proved by the bounds alone
    valid = (index >= low) & (index < high)
    if ignore is not None:
        valid |= index == ignore
    if not valid.all():
        where = np.unravel_index(int(np.argmin(valid)), index.shape)
        bad = int(index[where])
        raise IndexError(f"{name}[{', '.join(map(str, where))}] = {bad} is out of bounds for {high - low} classes "
                         f"(valid range [{low}, {high}))")


def device_index_error(bad, index, name, low, high, ignore=None):
    """The IndexError of :func:`check_index_range` for a device array whose kernel raised ``bad``
    (a :class:`~fastloss._gpu.BadIndex`): the error path alone copies the indices to the host,
    so that both backends name the same entry with the same message."""
    check_index_range(_backend.to_host(index), name, low, high, ignore)
    return bad  # not reached unless host and device disagree: the kernel's own IndexError
