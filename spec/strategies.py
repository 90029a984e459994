"""Hypothesis strategies shared by every spec module: shapes, dtypes, layouts, reductions, kwargs."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

REDUCTIONS = ("none", "mean", "sum")
FLOAT_DTYPES = (np.float32, np.float64)


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def finite_floats(lo=-10.0, hi=10.0, subnormal=True):
    # allow_subnormal=None: Hypothesis's default (subnormals where the range holds any)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=None if subnormal else False,
                     width=64)


def arrays(shape, dtype=np.float64, lo=-10.0, hi=10.0, subnormal=True):
    """Float arrays of ``shape`` with values in [lo, hi] (float64 draws, then cast).

    ``subnormal=False`` leaves out float64 subnormals (0 stays possible)."""
    return hnp.arrays(np.float64, shape, elements=finite_floats(lo, hi, subnormal)).map(lambda a: a.astype(dtype))


def no_subnormals(*arrays):
    """Whether no entry of ``arrays`` is subnormal in its own dtype (0 is fine)."""
    return all(np.all((a == 0) | ~(np.abs(a) < np.finfo(a.dtype).tiny)) for a in arrays
               if isinstance(a, np.ndarray) and a.dtype.kind == "f")


@st.composite
def layouts(draw, array):
    """The same values in another memory layout: contiguous, transposed copy viewed back,
    reversed (negative strides), strided slice, or non-native byte order."""
    kind = draw(st.sampled_from(["contiguous", "fortran", "reversed", "strided", "byteswapped"]))
    if array.ndim == 0:
        return array.copy()  # np.asfortranarray would make it 1-d
    if kind == "fortran":
        return np.asfortranarray(array)
    if kind == "reversed":
        return np.flip(np.flip(array).copy())
    if kind == "strided":
        big = np.repeat(array[..., None], 2, axis=-1)
        return big[..., 0]
    if kind == "byteswapped":
        return array.astype(array.dtype.newbyteorder(">" if np.little_endian else "<"))
    return np.ascontiguousarray(array)


def broadcastable_to(shape):
    """Shapes that broadcast to ``shape`` without changing it (some axes set to 1 or dropped)."""
    @st.composite
    def _draw(draw):
        dims = list(shape)
        drop = draw(st.integers(0, len(dims)))
        dims = dims[drop:]
        return tuple(1 if draw(st.booleans()) else d for d in dims)
    return _draw()


def reductions():
    return st.sampled_from(REDUCTIONS)


def example(strategy, accept=None, tries=50):
    """One deterministic draw (for the non-Hypothesis properties): the first generated example
    that ``accept`` takes, without the shrinking ``hypothesis.find`` would do."""
    from hypothesis import Phase, given, settings

    drawn = []

    @settings(max_examples=tries, database=None, derandomize=True, phases=[Phase.generate])
    @given(strategy)
    def capture(value):
        if not drawn and (accept is None or accept(value)):
            drawn.append(value)

    capture()
    if not drawn:
        raise AssertionError(f"no acceptable example in {tries} draws of {strategy!r}")
    return drawn[0]


def pointwise_args(lo=-10.0, hi=10.0, target_lo=None, target_hi=None, broadcast_target=True):
    """(input, target) of one shape, or a target that broadcasts against the input."""
    def for_dtype(dtype):
        @st.composite
        def _draw(draw):
            shape = draw(shapes())
            tshape = draw(broadcastable_to(shape)) if broadcast_target and draw(st.booleans()) else shape
            x = draw(arrays(shape, dtype, lo, hi))
            y = draw(arrays(tshape, dtype, lo if target_lo is None else target_lo,
                            hi if target_hi is None else target_hi))
            return (x, y), {}
        return _draw()
    return for_dtype


def away_from_kinks(for_dtype, distance_to_kink, margin=1e-2):
    """``for_dtype`` restricted to draws whose ``distance_to_kink(args, kwargs)`` (an array) is at
    least ``margin`` everywhere: finite differences are only exact where the loss is smooth."""
    def strategy(dtype):
        return for_dtype(dtype).filter(lambda drawn: bool(np.all(distance_to_kink(*drawn) > margin)))
    return strategy


def difference(args):
    """|input - target| of a pointwise draw, broadcast."""
    x, y = np.broadcast_arrays(np.asarray(args[0], dtype=np.float64), np.asarray(args[1], dtype=np.float64))
    return np.abs(x - y)
