"""The embedding kernels' GPU namespace: ``pairwise_distance``, ``triplet_margin`` and
``cosine_embedding`` with the arguments of ``fastloss._cpu.embedding`` (they fill the row losses
or distances and the gradients), launching ``embedding.cu``: a warp per row, a block for rows
longer than 1024."""
from ._runtime import element_strides, runtime_for, suffix, team_shape

KERNELS = tuple(f"fl_{k}_{team}_{s}" for k in ("pairwise_distance", "triplet_margin", "cosine_embedding")
                for team in ("warp", "block") for s in ("f32", "f64"))


def pairwise_distance(x1, x2, p, kind, eps, dist, g1, g2, gdist, n_threads):
    """Row distances ``dist[n] = ||x1[n] - x2[n] + eps||_p`` (``gdist`` None), or, given the
    distances and their output gradient ``gdist``, the gradients ``g1``/``g2`` (either may be None)."""
    rows, D = x1.shape
    if rows == 0:
        return
    if D == 0:
        if gdist is None:
            dist[...] = 0  # the norm of an empty row
        return
    rt = runtime_for(x1)
    grid, block, team = team_shape(rows, D)
    rt.launch("embedding", f"fl_pairwise_distance_{team}_{suffix(x1.dtype)}", grid, block,
              [rows, D, x1, *element_strides(x1), x2, *element_strides(x2), float(p), int(kind), float(eps), dist,
               g1, g2, gdist])


def triplet_margin(a, pos, neg, margin, p, kind, eps, swap, rowloss, ga, gp, gn, go, g_scale, n_threads):
    """triplet_margin rows: ``max(0, margin + d(a, p) - d_neg)``, ``d(u, v) = ||u - v + eps||_p``."""
    rows, D = a.shape
    if rows == 0:
        return
    if D == 0:
        rowloss[...] = margin if margin > 0 else 0.0  # every distance is 0 (the norm of an empty row)
        return
    rt = runtime_for(a)
    grid, block, team = team_shape(rows, D)
    rt.launch("embedding", f"fl_triplet_margin_{team}_{suffix(a.dtype)}", grid, block,
              [rows, D, a, *element_strides(a), pos, *element_strides(pos), neg, *element_strides(neg), float(margin),
               float(p), int(kind), float(eps), int(bool(swap)), rowloss, ga, gp, gn, go, float(g_scale)])


def cosine_embedding(x1, x2, sign, margin, rowloss, g1, g2, go, g_scale, n_threads):
    """cosine_embedding rows; ``sign[n]``: 1 where target == 1, -1 where target == -1, 0 otherwise."""
    rows, D = x1.shape
    if rows == 0:
        return
    rt = runtime_for(x1)
    grid, block, team = team_shape(rows, D)
    rt.launch("embedding", f"fl_cosine_embedding_{team}_{suffix(x1.dtype)}", grid, block,
              [rows, D, x1, *element_strides(x1), x2, *element_strides(x2), sign, float(margin), rowloss, g1, g2,
               go, float(g_scale)])
