"""The class-margin kernels' GPU namespace: ``multi_margin`` and ``multilabel_margin`` with the
arguments of ``fastloss._cpu.margin`` (they fill ``rowloss`` and the gradient), launching
``margin.cu``: a warp per row, a block for rows longer than 1024 classes. Targets are checked on
the device (:class:`fastloss._gpu.BadIndex`)."""
import numpy as np

from ._runtime import check_index_flag, index_flag, runtime_for, suffix, team_shape

KERNELS = tuple(f"fl_{k}_{team}_{s}" for k in ("multi_margin", "multilabel_margin") for team in ("warp", "block")
                for s in ("f32", "f64"))


def multi_margin(x, target, weight, margin, p, rowloss, gx, go, g_scale, n_threads):
    """multi_margin_loss rows: ``rowloss[n] = sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C``."""
    rows, C = x.shape
    if rows == 0:
        return
    rt = runtime_for(x)
    grid, block, team = team_shape(rows, C)
    flag = index_flag(rt)
    rt.launch("margin", f"fl_multi_margin_{team}_{suffix(x.dtype)}", grid, block,
              [rows, C, x, target, weight, float(margin), int(p), rowloss, gx, go, float(g_scale), flag])
    check_index_flag(rt, flag, "target")


def multilabel_margin(x, target, rowloss, gx, go, g_scale, n_threads):
    """multilabel_margin_loss rows (the target classes: each row's entries before its first -1)."""
    rows, C = x.shape
    if rows == 0:
        return
    rt = runtime_for(x)
    grid, block, team = team_shape(rows, C)
    flag = index_flag(rt)
    is_target = rt.empty(rows * C, np.int8)   # each row's scratch: which classes are targets
    rt.launch("margin", f"fl_multilabel_margin_{team}_{suffix(x.dtype)}", grid, block,
              [rows, C, x, target, rowloss, gx, go, float(g_scale), is_target, flag])
    check_index_flag(rt, flag, "target")
