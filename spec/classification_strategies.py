"""Hypothesis strategies of the classification losses: (input, class-index target) pairs with
ignored entries, class-probability targets, and multi-label targets.

Each ``*_args(...)`` returns ``for_dtype(dtype) -> strategy of (args, kwargs)``, the
``LossSpec.draw_args`` form. Index targets are int64 arrays (the dtype torch takes), so the
same draws feed the torch comparison; other integer dtypes are checked by explicit tests.
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spec import strategies as S


@st.composite
def class_input_shapes(draw):
    """(C,) unbatched, (N, C), or (N, C, d1[, d2]) with small sides."""
    C = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["unbatched", "batched", "kdim"]))
    if kind == "unbatched":
        return (C,)
    N = draw(st.integers(1, 4))
    if kind == "batched":
        return (N, C)
    extra = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    return (N, C, *extra)


def class_count(shape):
    return shape[0] if len(shape) == 1 else shape[1]


def index_target_shape(shape):
    return () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])


@st.composite
def index_targets(draw, shape):
    """Class indices for an input of ``shape``, some set to a drawn ignore_index.

    ignore_index is drawn inside [0, C), just outside it, or the default -100, so every
    placement torch allows is exercised. Returns (target, ignore_index or None for default).
    """
    C = class_count(shape)
    tshape = index_target_shape(shape)
    t = draw(hnp.arrays(np.int64, tshape, elements=st.integers(0, C - 1)))
    ignore = draw(st.sampled_from([None, -100, -1, 0, C - 1, C, C + 3]))
    if ignore is not None and draw(st.booleans()):
        mask = draw(hnp.arrays(np.bool_, tshape))
        t = np.where(mask, np.int64(ignore), t).astype(np.int64)
    return np.asarray(t, dtype=np.int64), ignore


def class_weights(dtype, C):
    # no subnormal weights: a subnormal sum of target weights overflows the 'mean' scale 1 / sum
    # in torch, the reference and fastloss alike (none of the answers is right)
    return S.arrays((C,), dtype, 0.0, 2.0, subnormal=False)


def class_index_args(smoothing=False, logit_range=5.0):
    """(input, target) with optional weight, ignore_index and (for cross_entropy) label_smoothing."""
    def for_dtype(dtype):
        @st.composite
        def _draw(draw):
            shape = draw(class_input_shapes())
            x = draw(S.arrays(shape, dtype, -logit_range, logit_range))
            t, ignore = draw(index_targets(shape))
            kwargs = {}
            if ignore is not None:
                kwargs["ignore_index"] = ignore
            if draw(st.booleans()):
                kwargs["weight"] = draw(class_weights(dtype, class_count(shape)))
            if smoothing and draw(st.booleans()):
                kwargs["label_smoothing"] = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
            return (x, t), kwargs
        return _draw()
    return for_dtype


def class_probability_args():
    """(input, target) with a floating target of the input's shape; optional weight and smoothing."""
    def for_dtype(dtype):
        @st.composite
        def _draw(draw):
            shape = draw(class_input_shapes())
            x = draw(S.arrays(shape, dtype, -5, 5))
            y = draw(S.arrays(shape, dtype, 0, 1))
            kwargs = {}
            if draw(st.booleans()):
                kwargs["weight"] = draw(class_weights(dtype, class_count(shape)))
            if draw(st.booleans()):
                kwargs["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 0.5]))
            return (x, y), kwargs
        return _draw()
    return for_dtype


def cross_entropy_args():
    index, probability = class_index_args(smoothing=True), class_probability_args()
    return lambda dtype: st.one_of(index(dtype), probability(dtype))


def multilabel_args():
    """(input, target) of one shape (1 to 3 dims, class dim last), target in [0, 1] or {0, 1};
    an optional weight that broadcasts against the input."""
    def for_dtype(dtype):
        @st.composite
        def _draw(draw):
            shape = draw(S.shapes(min_dims=1, max_dims=3))
            x = draw(S.arrays(shape, dtype, -8, 8))
            if draw(st.booleans()):
                y = draw(S.arrays(shape, dtype, 0, 1))
            else:
                y = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 1))).astype(dtype)
            kwargs = {}
            if draw(st.booleans()):
                kwargs["weight"] = draw(S.arrays(draw(S.broadcastable_to(shape)), dtype, 0, 2))
            return (x, y), kwargs
        return _draw()
    return for_dtype
