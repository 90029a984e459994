"""Layouts (issue 8): operands of any memory layout are read in place, in memory order, and
give the contiguous call's values; copies only where a kernel cannot read the layout.

Values are compared with the C-contiguous call (itself checked against torch by the spec suite);
'none' losses and gradients of the elementwise losses are bit-identical, reduced ones agree to
rounding (the sum runs in another order)."""
import itertools
import warnings

import numpy as np
import pytest

import fastloss as fl
from fastloss._losses._common import collapse_2d, empty_in_order, memory_order
from fastloss._losses.classification import CLASSES, ROWS, SPATIAL, _ncs


def _same_values(a, layout, rng):
    """``a``'s values in another layout (a view of a differently laid out array)."""
    if layout == "C":
        return a.copy()
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    if layout == "permuted":
        perm = rng.permutation(a.ndim)
        return np.ascontiguousarray(a.transpose(perm)).transpose(np.argsort(perm))
    if layout == "reversed":
        return np.flip(np.flip(a).copy())
    if layout == "strided":
        big = np.zeros(tuple(2 * n for n in a.shape), a.dtype)
        sl = tuple(slice(None, None, 2) for _ in a.shape)
        big[sl] = a
        return big[sl]
    raise ValueError(layout)


LAYOUTS = ["C", "F", "transposed", "permuted", "reversed", "strided"]


@pytest.mark.parametrize("shape", [(7,), (4, 6), (3, 4, 5), (2, 3, 1, 4)])
@pytest.mark.parametrize("name,kwargs", [("mse_loss", {}), ("huber_loss", {"delta": 0.5}),
                                         ("binary_cross_entropy_with_logits", {}), ("poisson_nll_loss", {})])
def test_elementwise_layouts_give_the_contiguous_values(shape, name, kwargs):
    rng = np.random.default_rng(0)
    x, y, go = rng.random(shape), rng.random(shape), rng.standard_normal(shape)
    ref_loss, ref_grads = fl.value_and_grad(name, x, y, reduction="none", grad_output=go, **kwargs)
    ref_sum = fl.value_and_grad(name, x, y, reduction="sum", **kwargs)
    for lx, ly, lg in itertools.product(LAYOUTS, LAYOUTS, ["C", "F"]):
        xv, yv, gv = _same_values(x, lx, rng), _same_values(y, ly, rng), _same_values(go, lg, rng)
        loss, grads = fl.value_and_grad(name, xv, yv, reduction="none", grad_output=gv, **kwargs)
        np.testing.assert_array_equal(loss, ref_loss, err_msg=f"{lx}/{ly}/{lg}")
        for k in ref_grads:
            np.testing.assert_array_equal(grads[k], ref_grads[k], err_msg=f"grad {k} {lx}/{ly}/{lg}")
        total, grads = fl.value_and_grad(name, xv, yv, reduction="sum", **kwargs)
        np.testing.assert_allclose(total, ref_sum[0], rtol=1e-13)
        for k in ref_grads:
            np.testing.assert_array_equal(grads[k], ref_sum[1][k])


def test_broadcast_operands_in_every_layout():
    rng = np.random.default_rng(1)
    x = rng.random((3, 4, 5))
    for y in (rng.random((3, 1, 5)), rng.random((4, 1)), rng.random(()), rng.random((1, 4, 5))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = fl.value_and_grad(fl.mse_loss, x, y, reduction="none")
            for lx in LAYOUTS:
                loss, grads = fl.value_and_grad(fl.mse_loss, _same_values(x, lx, rng), y, reduction="none")
                np.testing.assert_array_equal(loss, ref[0])
                np.testing.assert_allclose(grads["target"], ref[1]["target"], rtol=1e-13)
                assert grads["target"].shape == y.shape


def test_fortran_operands_are_read_in_place_and_give_fortran_outputs():
    x = np.asfortranarray(np.random.default_rng(2).random((64, 48)))
    y = np.asfortranarray(np.random.default_rng(3).random((64, 48)))
    views, order = collapse_2d(x.shape, [x, y])
    assert order == (1, 0)
    assert views[0].shape == (1, x.size) and views[0].strides[1] == x.itemsize  # one contiguous run
    assert np.shares_memory(views[0], x) and np.shares_memory(views[1], y)
    loss, grads = fl.value_and_grad(fl.mse_loss, x, y, reduction="none")
    assert loss.flags.f_contiguous and grads["input"].flags.f_contiguous  # like torch: the inputs' layout
    np.testing.assert_array_equal(loss, (np.ascontiguousarray(x) - np.ascontiguousarray(y)) ** 2)


def test_memory_order_follows_the_first_operand_and_keeps_c_order_on_ties():
    c = np.zeros((2, 3, 4))
    assert memory_order(c.shape, [c]) == (0, 1, 2)
    assert memory_order(c.shape, [np.asfortranarray(c)]) == (2, 1, 0)
    p = np.zeros((4, 2, 3)).transpose(1, 2, 0)  # (2, 3, 4) whose axis 2 is outermost
    assert memory_order(p.shape, [p, c]) == (2, 0, 1)
    assert memory_order(c.shape, [np.broadcast_to(np.zeros(4), c.shape), np.asfortranarray(c)]) == (2, 1, 0)


def test_copies_only_when_the_axes_cannot_be_merged():
    rng = np.random.default_rng(4)
    a = rng.random((3, 4, 5))
    p = _same_values(a, "permuted", rng)
    while memory_order(p.shape, [p]) == (0, 1, 2):
        p = _same_values(a, "permuted", rng)
    # two layouts, three axes: the operand laid out otherwise is copied into the first one's order
    views, order = collapse_2d(a.shape, [p, a])
    assert len(views[0].shape) == 2 and np.shares_memory(views[0], p) and not np.shares_memory(views[1], a)
    np.testing.assert_array_equal(views[1].reshape(-1), np.transpose(a, order).reshape(-1))
    # two layouts, two axes: both read in place (one with a stride)
    f = np.asfortranarray(a[0])
    views, _ = collapse_2d(f.shape, [f, a[0]])
    assert np.shares_memory(views[0], f) and np.shares_memory(views[1], a[0])


def test_empty_in_order_lays_memory_out_in_the_order():
    out = empty_in_order((2, 3, 4), (2, 0, 1), np.float32)
    assert out.shape == (2, 3, 4) and out.strides == (12, 4, 24)


# -- class-dimension inputs ----------------------------------------------------------------------

def test_kernel_layout_choice():
    x = np.zeros((6, 4))
    assert _ncs(x)[1] == ROWS
    v, layout = _ncs(np.ascontiguousarray(x.T).T)  # (N, C) view of a (C, N) array
    assert layout == CLASSES and v.shape == (1, 4, 6) and v.strides[2] == x.itemsize
    assert _ncs(np.zeros((2, 3, 4, 5)))[1] == SPATIAL
    channels_last = np.zeros((2, 4, 5, 3)).transpose(0, 3, 1, 2)  # (N, C, H, W) view of (N, H, W, C)
    v, layout = _ncs(channels_last)
    assert layout == ROWS and v.shape == (40, 3, 1) and np.shares_memory(v, channels_last)
    # a probability target follows its input's layout
    assert _ncs(np.zeros((6, 4)), CLASSES)[0].shape == (1, 4, 6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(9, 5), (4, 3, 6), (2, 4, 3, 5), (5,)])
@pytest.mark.parametrize("layout", ["transposed", "F", "reversed", "strided", "channels_last"])
def test_class_dimension_layouts_give_the_contiguous_values(dtype, shape, layout):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    C = shape[0] if len(shape) == 1 else shape[1]
    t = rng.integers(0, C, () if len(shape) == 1 else (shape[0],) + shape[2:])
    p = rng.random(shape).astype(dtype)
    w = (rng.random(C) + 0.5).astype(dtype)
    if layout == "channels_last":
        xv = np.ascontiguousarray(np.moveaxis(x, 1, -1)).transpose((0, x.ndim - 1) + tuple(range(1, x.ndim - 1))) \
            if x.ndim > 2 else _same_values(x, "transposed", rng)
    else:
        xv = _same_values(x, layout, rng)
    # rounding may differ by a few ulps where another kernel (rows vs spatial) reads the layout
    tol = dict(rtol=5e-7, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-15)
    for fn, target, kwargs in [("cross_entropy", t, {}), ("cross_entropy", t, {"weight": w, "label_smoothing": 0.1}),
                               ("cross_entropy", p, {"label_smoothing": 0.2}), ("nll_loss", t, {"weight": w})]:
        for reduction in ("none", "mean"):
            ref_loss, ref_grads = fl.value_and_grad(fn, x, target, reduction=reduction, **kwargs)
            loss, grads = fl.value_and_grad(fn, xv, target, reduction=reduction, **kwargs)
            np.testing.assert_allclose(loss, ref_loss, **tol, err_msg=f"{fn} {kwargs} {reduction}")
            for k in ref_grads:
                assert grads[k].shape == ref_grads[k].shape
                np.testing.assert_allclose(grads[k], ref_grads[k], **tol, err_msg=f"grad {k} {fn} {kwargs}")
