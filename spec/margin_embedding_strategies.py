"""Hypothesis strategies of the margin and embedding losses: (args, kwargs) draws with index targets
(class indices, -1-terminated label lists, +-1 targets), batched and unbatched shapes, and the
kink-free variants the finite-difference property needs."""
import numpy as np
from hypothesis import strategies as st

from spec import strategies as S


def _grid(draw, shape, step, dtype, lo=-4, hi=4):
    """Values k * step (k integer in [lo, hi]): hinge arguments then stay a fixed distance from 0."""
    k = draw(S.arrays(shape, np.float64, lo, hi)).round()
    return (k * step).astype(dtype)


def multi_margin_args(kink_free=False):
    def for_dtype(dtype):
        @st.composite
        def _draw(draw):
            C = draw(st.integers(1, 6))
            batched = draw(st.booleans()) or kink_free
            N = draw(st.integers(1, 4))
            shape = (N, C) if batched else (C,)
            if kink_free:
                x = _grid(draw, shape, 0.5, dtype)          # z = 0.25 + 0.5 k, never 0
                margin = 0.25
            else:
                x = draw(S.arrays(shape, dtype, -3, 3))
                margin = draw(st.sampled_from([1.0, 0.5, 0.0, -0.5, 2.0]))
            if batched:
                y = np.array(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)), dtype=np.int64)
            else:
                t = draw(st.integers(0, C - 1))
                y = np.array(t, dtype=np.int64) if draw(st.booleans()) else np.array([t], dtype=np.int64)
            kwargs = {"p": draw(st.sampled_from([1, 2])), "margin": margin}
            if draw(st.booleans()):
                kwargs["weight"] = draw(S.arrays((C,), dtype, 0.1, 2.0))
            return (x, y), kwargs
        return _draw()
    return for_dtype


def label_lists(C, rows):
    """Targets (rows, C): a leading run of labels (repeats allowed), -1, then anything in [-1, C)."""
    @st.composite
    def _draw(draw):
        out = np.full((rows, C), -1, dtype=np.int64)
        for r in range(rows):
            k = draw(st.integers(0, C))
            lead = draw(st.lists(st.integers(0, C - 1), min_size=k, max_size=k))
            if draw(st.booleans()):
                lead = list(dict.fromkeys(lead))  # mostly distinct labels, sometimes repeats
            out[r, :len(lead)] = lead
            tail_start = len(lead) + 1
            if tail_start < C:
                out[r, tail_start:] = draw(st.lists(st.integers(-1, C - 1), min_size=C - tail_start,
                                                    max_size=C - tail_start))
        return out
    return _draw()


def multilabel_margin_args(kink_free=False):
    def for_dtype(dtype):
        @st.composite
        def _draw(draw):
            C = draw(st.integers(1, 6))
            batched = draw(st.booleans()) or kink_free
            N = draw(st.integers(1, 4)) if batched else 1
            shape = (N, C) if batched else (C,)
            # on the grid 0.3 k, 1 - x_j + x_i = 1 + 0.3 m is at least 0.1 away from 0
            x = _grid(draw, shape, 0.3, dtype) if kink_free else draw(S.arrays(shape, dtype, -3, 3))
            y = draw(label_lists(C, N)).reshape(shape)
            return (x, y), {}
        return _draw()
    return for_dtype


def _away_from_zero(draw, shape, dtype):
    mag = draw(S.arrays(shape, np.float64, 0.3, 2.0))
    sign = np.where(draw(S.arrays(shape, np.float64, -1, 1)) >= 0, 1.0, -1.0)
    return (mag * sign).astype(dtype)


def cosine_embedding_args(kink_free=False):
    def for_dtype(dtype):
        @st.composite
        def _draw(draw):
            D = draw(st.integers(1, 5))
            batched = draw(st.booleans()) or kink_free
            N = draw(st.integers(1, 4))
            shape = (N, D) if batched else (D,)
            if kink_free:
                x1, x2 = _away_from_zero(draw, shape, dtype), _away_from_zero(draw, shape, dtype)
                margin = -2.0   # cos - margin > 0: the y = -1 branch is smooth
            else:
                x1 = draw(S.arrays(shape, dtype, -3, 3))
                x2 = draw(S.arrays(shape, dtype, -3, 3))
                if batched and draw(st.booleans()):
                    # broadcast against input1; kept away from 0, where the summed gradient of a
                    # (near-)zero vector is a cancellation of +-1/sqrt(eps)-sized terms (ill-conditioned;
                    # zero vectors have their own tests)
                    x2 = x2[:1]
                    if np.abs(x2).max() < 0.5:
                        x2 = (x2 + 1).astype(dtype)
                margin = draw(st.sampled_from([0.0, 0.5, -0.5]))
            values = [1, -1] if kink_free else [1, -1, 1, -1, 0]
            if batched:
                y = np.array(draw(st.lists(st.sampled_from(values), min_size=N, max_size=N)), dtype=np.int64)
            else:
                y = np.array(draw(st.sampled_from(values)), dtype=np.int64)
            return (x1, x2, y), {"margin": margin}
        return _draw()
    return for_dtype


def triplet_args(kink_free=False, p_values=(2.0, 1.0, 3.0, 1.5), with_distance=False):
    def for_dtype(dtype):
        @st.composite
        def _draw(draw):
            D = draw(st.integers(1, 5))
            shape = draw(st.sampled_from([(draw(st.integers(1, 4)), D), (D,)]))
            if kink_free:
                arrays = [_away_from_zero(draw, shape, dtype) for _ in range(3)]
                # a - p and a - n stay away from 0 (p = 1 has a kink there)
                arrays[1] = (arrays[0] + arrays[1]).astype(dtype)
                arrays[2] = (arrays[0] + arrays[2]).astype(dtype)
                margin = 50.0        # the hinge is always active
                swap = False
            else:
                arrays = [draw(S.arrays(shape, dtype, -3, 3)) for _ in range(3)]
                if len(shape) == 2 and draw(st.booleans()):
                    arrays[2] = arrays[2][:1]  # broadcast negative
                margin = draw(st.sampled_from([1.0, 0.5, 3.0]))
                swap = draw(st.booleans())
            kwargs = {"margin": margin, "swap": swap}
            if not with_distance:
                kwargs["p"] = draw(st.sampled_from(p_values))
                kwargs["eps"] = draw(st.sampled_from([1e-6, 0.0, 0.1]))
            return tuple(arrays), kwargs
        return _draw()
    return for_dtype


def triplet_term_scale(args, kwargs):
    """Per triplet, margin + d(a, p) + d(a, n) (+ d(p, n) with swap): the terms the loss cancels
    (their float32 differences u - v + eps are rounded, as torch rounds them)."""
    import spec.reference.embedding as ref

    p, eps = (2.0, 1e-6) if "p" not in kwargs else (kwargs["p"], kwargs["eps"])
    a, pos, neg = (np.asarray(x, dtype=np.float64) for x in args)
    total = (abs(kwargs.get("margin", 1.0)) + ref.pairwise_distance(a, pos, p, eps)[0]
             + ref.pairwise_distance(a, neg, p, eps)[0])
    if kwargs.get("swap"):
        total = total + ref.pairwise_distance(pos, neg, p, eps)[0]
    return total


def triplet_torch_args(with_distance=False):
    """triplet_args for the torch comparison: the hinge argument ``margin + d(a, p) - d_neg`` and,
    with swap, ``d(a, n) - d(p, n)`` away from 0 by more than rounding (at a kink or tie within
    rounding either side's gradient is right, and torch's float32 rounding picks one), and no
    value below 1e-150 in magnitude (torch's p-norm of such differences underflows to 0, except
    over a dimension of size 1, where it returns |d|: its gradient there depends on D)."""
    import spec.reference.embedding as ref

    def kink_distance(args, kwargs):
        p, eps = (2.0, 1e-6) if "p" not in kwargs else (kwargs["p"], kwargs["eps"])
        a, pos, neg = (np.asarray(x, dtype=np.float64) for x in args)
        d_ap = ref.pairwise_distance(a, pos, p, eps)[0]
        d_an = ref.pairwise_distance(a, neg, p, eps)[0]
        d_neg, gaps = d_an, []
        if kwargs["swap"]:
            d_pn = ref.pairwise_distance(pos, neg, p, eps)[0]
            d_neg = np.minimum(d_an, d_pn)
            gaps.append(np.abs(d_an - d_pn) / (1 + d_an))
        gaps.append(np.abs(kwargs["margin"] + d_ap - d_neg) / (1 + d_ap + d_neg))
        return np.concatenate([np.ravel(g) for g in gaps])

    def tiny(args):
        return any(np.any((np.abs(a) < 1e-150) & (a != 0)) for a in args)

    def for_dtype(dtype):
        return triplet_args(with_distance=with_distance)(dtype).filter(
            lambda drawn: not tiny(drawn[0]) and bool(np.all(kink_distance(*drawn) > 1e-5)))
    return for_dtype
