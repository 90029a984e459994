"""The classification kernels' GPU namespace: the functions of ``fastloss._cpu.classification``
(same arguments; they fill ``out`` / ``partial`` / the gradients and return None), launching
``classification.cu``.

``partial``: the CPU kernels write one partial sum per row or block of positions and the caller
adds them; here the device computes the total (per-row or per-block sums in a workspace, then
``fl_finish_sums`` in index order) and writes it to ``partial[0]``, the rest of ``partial`` (zeros)
untouched: the caller's sum is the same. Index targets are checked on the device; an entry out
of range raises :class:`fastloss._gpu.BadIndex` (the caller has normally refused it before).
"""
import numpy as np

from ._runtime import (
    BLOCK,
    FINISH_BLOCK,
    blocks_for,
    check_index_flag,
    element_strides,
    index_flag,
    runtime_for,
    suffix,
    team_shape,
)

_TYPES = ("f32", "f64")
KERNELS = tuple(f"fl_{k}_{s}" for k in ("nll", "ce_rows_warp", "ce_rows_block", "ce_spatial", "ce_prob_rows_warp",
                                        "ce_prob_rows_block", "ce_prob_spatial", "mlsm_warp", "mlsm_block")
                for s in _TYPES)


def _finish(rt, part, n, partial):
    """partial[0] = sum(part[:n]) on the device (when the loss is reduced)."""
    rt.launch("classification", "fl_finish_sums", 1, FINISH_BLOCK, [part, None, n, partial])


def _total_weight(rt, w):
    W = rt.full(1, 0.0, np.float64)
    rt.launch("classification", f"fl_vector_sum_{suffix(w.dtype)}", 1, FINISH_BLOCK, [w, w.shape[0], 1, W])
    return W


def nll(x, t, w, ignore_index, out, grad, go, g_scale, partial, n_threads):
    """nll_loss: loss = -w_t x_t (0 where ignored); the gradient is zero except -w_t at the target."""
    N, C, S = x.shape
    if N == 0 or S == 0:
        return
    rt = runtime_for(x)
    sfx = suffix(x.dtype)
    if grad is not None:
        rt.launch("classification", f"fl_fill_{sfx}", blocks_for(grad.size), BLOCK, [grad, grad.size, 0.0])
    grid = blocks_for(N * S)
    part = rt.empty(grid, np.float64)
    flag = index_flag(rt)
    rt.launch("classification", f"fl_nll_{sfx}", grid, BLOCK,
              [N, C, S, x, *element_strides(x), t, w, int(ignore_index), out, grad, go, float(g_scale), part, flag])
    check_index_flag(rt, flag, "target")
    if out is None:
        _finish(rt, part, grid, partial)


def _softmax_launch(rt, kernel, sfx, operands, tail, spatial):
    """Launch a softmax kernel over its (N, C, S) operands: ``fl_<kernel>_spatial`` (one thread per
    position, blocks of positions) or ``fl_<kernel>_rows_<team>`` (a warp or block per row).
    ``operands``: the (N, C, S) arrays, each passed with its element strides (two in the spatial
    layout, the sample stride in the row layout); ``tail``: the arguments after them. Returns the
    per-row or per-block sums and their count."""
    N, C, S = operands[0].shape
    strided = []
    if spatial:
        grid = n_part = N * ((S + BLOCK - 1) // BLOCK)
        block, name, shape = BLOCK, f"fl_{kernel}_spatial_{sfx}", [N, C, S]
        for a in operands:
            strided += [a, *element_strides(a)[:2]]
    else:
        grid, block, team = team_shape(N, C)
        n_part, name, shape = N, f"fl_{kernel}_rows_{team}_{sfx}", [N, C]
        for a in operands:
            strided += [a, element_strides(a)[0]]
    part = rt.empty(n_part, np.float64)
    rt.launch("classification", name, grid, block, [*shape, *strided, *tail(part)])
    return part, n_part


def _ce_index(x, t, w, ignore_index, eps, out, grad, go, g_scale, partial, spatial):
    N, C, S = x.shape
    if N == 0 or S == 0:
        return
    rt = runtime_for(x)
    sfx = suffix(x.dtype)
    W = _total_weight(rt, w)
    flag = index_flag(rt)
    common = [t, w, int(ignore_index), float(eps), W, out, grad, go, float(g_scale)]
    part, n_part = _softmax_launch(rt, "ce", sfx, [x], lambda part: [*common, part, flag], spatial)
    check_index_flag(rt, flag, "target")
    if out is None:
        _finish(rt, part, n_part, partial)


def ce_index_rows(x, t, w, ignore_index, eps, out, grad, go, g_scale, partial, n_threads):
    """Class-index cross entropy, row layout (S == 1, class stride 1)."""
    _ce_index(x, t, w, ignore_index, eps, out, grad, go, g_scale, partial, spatial=False)


def ce_index_spatial(x, t, w, ignore_index, eps, out, grad, go, g_scale, partial, n_threads):
    """Class-index cross entropy, spatial layout (S > 1, spatial stride 1)."""
    _ce_index(x, t, w, ignore_index, eps, out, grad, go, g_scale, partial, spatial=True)


def _ce_prob(x, y, w, eps, out, grad, tgrad, go, g_scale, partial, spatial):
    N, C, S = x.shape
    if N == 0 or S == 0:
        return
    rt = runtime_for(x)
    common = [w, float(eps), out, grad, tgrad, go, float(g_scale)]
    part, n_part = _softmax_launch(rt, "ce_prob", suffix(x.dtype), [x, y], lambda part: [*common, part], spatial)
    if out is None:
        _finish(rt, part, n_part, partial)


def ce_prob_rows(x, y, w, eps, out, grad, tgrad, go, g_scale, partial, n_threads):
    """Probability-target cross entropy, row layout (S == 1, class stride 1 for x and y)."""
    _ce_prob(x, y, w, eps, out, grad, tgrad, go, g_scale, partial, spatial=False)


def ce_prob_spatial(x, y, w, eps, out, grad, tgrad, go, g_scale, partial, n_threads):
    """Probability-target cross entropy, spatial layout (S > 1, spatial stride 1 for x and y)."""
    _ce_prob(x, y, w, eps, out, grad, tgrad, go, g_scale, partial, spatial=True)


def multilabel_soft_margin(x, y, w, inv_c, out, gx, gy, go, g_scale, partial, n_threads):
    """Per row: mean over classes of w * (y softplus(-x) + (1 - y) softplus(x))."""
    R, C = x.shape
    if R == 0 or C == 0:
        return
    rt = runtime_for(x)
    grid, block, team = team_shape(R, C)
    part = rt.empty(R, np.float64)
    rt.launch("classification", f"fl_mlsm_{team}_{suffix(x.dtype)}", grid, block,
              [R, C, x, *element_strides(x), y, *element_strides(y), w, *element_strides(w), float(inv_c),
               out, gx, gy, go, float(g_scale), part])
    if out is None:
        _finish(rt, part, R, partial)
