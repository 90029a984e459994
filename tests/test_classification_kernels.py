"""The classification kernels' vectorised loops (C, in classification.pyx) against torch, in both
dtypes: rows long enough for the vector body and a ragged tail, special values placed in both,
and the spatial layout's blocks. Values far out of the exp's reduced range (underflow to 0, -inf)
and NaN/inf must come out as torch's."""
import numpy as np
import pytest

import fastloss as fl

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytestmark = pytest.mark.torch

DTYPES = [np.float32, np.float64]
# a row length with a tail after the 8-wide blocks (and the 16-float AVX-512 vectors)
C = 37


def _torch_ce(x, t, **kw):
    tx = torch.from_numpy(x).requires_grad_(True)
    loss = F.cross_entropy(tx, torch.from_numpy(t), **kw)
    loss.sum().backward()
    return loss.detach().numpy(), tx.grad.numpy()


def _check(ours, theirs, dtype):
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * 1e-2, equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pos", [3, 20, 35])  # in the first block, a middle block, the tail
@pytest.mark.parametrize("special", [-np.inf, np.inf, np.nan, -1e4, 1e4])
def test_cross_entropy_rows_special_values(dtype, pos, special):
    rng = np.random.default_rng(pos)
    x = (rng.standard_normal((4, C)) * 3).astype(dtype)
    x[1, pos] = special
    x[2, :] = -np.inf if np.isnan(special) else special  # a whole row of it
    x[2, 0] = 0.0
    t = np.array([0, (pos + 1) % C, 0, pos])
    loss, g = fl.value_and_grad("cross_entropy", x, t, reduction="none", wrt=("input",))
    ref_loss, ref_g = _torch_ce(x, t, reduction="none")
    _check(loss, ref_loss, dtype)
    _check(g["input"], ref_g, dtype)
    _check(fl.cross_entropy(x, t, reduction="none"), ref_loss, dtype)  # the forward-only path


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("special", [-np.inf, np.nan, -800.0, 800.0])
def test_cross_entropy_spatial_special_values(dtype, special):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 300)).astype(dtype)  # one full block of positions and a partial one
    x[0, 2, 7] = special
    x[1, 4, 290] = special
    x[1, :, 100] = -1e4
    t = rng.integers(0, 5, (2, 300))
    loss, g = fl.value_and_grad("cross_entropy", x, t, reduction="none", label_smoothing=0.1, wrt=("input",))
    ref_loss, ref_g = _torch_ce(x, t, reduction="none", label_smoothing=0.1)
    _check(loss, ref_loss, dtype)
    _check(g["input"], ref_g, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_long_rows_match_torch(dtype):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3, 5003)) * 10).astype(dtype)
    t = rng.integers(0, 5003, 3)
    w = rng.random(5003).astype(dtype)
    for kw in ({}, {"label_smoothing": 0.2}):
        loss, g = fl.value_and_grad("cross_entropy", x, t, weight=w, wrt=("input",), **kw)
        ref_loss, ref_g = _torch_ce(x, t, weight=torch.from_numpy(w), **kw)
        _check(loss, ref_loss, dtype)
        _check(g["input"], ref_g, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_weight", [False, True])
def test_multilabel_soft_margin_special_values(dtype, with_weight):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((5, C)) * 4).astype(dtype)
    x[0, [1, 20, 36]] = [-800.0, 800.0, -40.0]
    x[1, [2, 17, 35]] = [np.inf, -np.inf, 1e-30]
    x[2, 33] = np.nan
    x[3, :] = 0.0
    y = (rng.random((5, C)) < 0.3).astype(dtype)
    y[4, :] = rng.random(C)  # soft labels
    w = rng.random(C).astype(dtype) if with_weight else None
    kw = {"weight": w} if with_weight else {}
    loss, g = fl.value_and_grad("multilabel_soft_margin_loss", x, y, reduction="none", wrt=("input", "target"), **kw)
    tx = torch.from_numpy(x).requires_grad_(True)
    ty = torch.from_numpy(y).requires_grad_(True)
    tw = {"weight": torch.from_numpy(w)} if with_weight else {}
    ref = F.multilabel_soft_margin_loss(tx, ty, reduction="none", **tw)
    ref.sum().backward()
    _check(loss, ref.detach().numpy(), dtype)
    _check(g["input"], tx.grad.numpy(), dtype)
    _check(g["target"], ty.grad.numpy(), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_multilabel_soft_margin_strided_rows_are_bit_identical(dtype):
    # strided rows are gathered into the contiguous row loop: the same values, bit for bit
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((6, C)) * 5).astype(dtype)
    y = rng.random((6, C)).astype(dtype)
    w = rng.random(C).astype(dtype)
    expected = fl.value_and_grad("multilabel_soft_margin_loss", x, y, weight=w, reduction="none",
                                 wrt=("input", "target"))
    x_f = np.asfortranarray(x)                      # class stride 6
    y_s = np.repeat(y, 2, axis=1)[:, ::2]           # class stride 2
    w_s = np.repeat(w, 3)[::3]                      # class stride 3
    w_2d = np.asfortranarray(np.tile(w, (6, 1)))    # a full (N, C) weight, class stride 6
    for xa, ya, wa in [(x_f, y, w), (x, y_s, w), (x_f, y_s, w_s), (x, y, w_2d)]:
        loss, g = fl.value_and_grad("multilabel_soft_margin_loss", xa, ya, weight=wa, reduction="none",
                                    wrt=("input", "target"))
        np.testing.assert_array_equal(loss, expected[0])
        np.testing.assert_array_equal(g["input"], expected[1]["input"])
        np.testing.assert_array_equal(g["target"], expected[1]["target"])
