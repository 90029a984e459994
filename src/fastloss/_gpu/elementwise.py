"""The elementwise kernels' GPU namespace: the same functions as ``fastloss._cpu.elementwise``
(one per loss variant, same arguments, same ``(total, n_bad)`` result), launching
``elementwise.cu``.

A call runs the variant's grid-stride kernel (each block's loss sum and failed-check count into a
workspace), then ``fl_finish_sums`` adds the block values in index order on the device. For
NumPy inputs (emulation) the results are host scalars, as the Cython functions return; for CuPy
inputs ``total`` is a 0-d device array (no synchronisation) and ``n_bad`` is read back only for
the losses that check their elements (binary_cross_entropy, gaussian_nll_loss).
"""
import numpy as np

from ._runtime import BLOCK, FINISH_BLOCK, blocks_for, runtime_for, suffix

# variant: (operands, gradients, parameters, has a check) -- the CPU table's kernel signatures
VARIANTS = {
    "mse": (2, 2, 0, False), "mse_w": (3, 3, 0, False),
    "l1": (2, 2, 0, False), "l1_w": (3, 3, 0, False),
    "smooth_l1": (2, 2, 1, False),
    "huber": (2, 2, 1, False), "huber_w": (3, 3, 1, False),
    "soft_margin": (2, 1, 0, False),
    "hinge_embedding": (2, 1, 1, False),
    "margin_ranking": (3, 3, 1, False),
    "bce": (2, 2, 0, True), "bce_w": (3, 2, 0, True),
    "bce_logits": (2, 2, 0, False), "bce_logits_w": (3, 2, 0, False), "bce_logits_pw": (3, 2, 0, False),
    "bce_logits_w_pw": (4, 2, 0, False),
    "kl_div": (2, 2, 0, False), "kl_div_log": (2, 2, 0, False),
    "poisson_log": (2, 2, 1, False), "poisson_log_full": (2, 2, 1, False),
    "poisson": (2, 2, 1, False), "poisson_full": (2, 2, 1, False),
    "gaussian_nll": (3, 3, 2, True),
}

KERNELS = tuple(f"fl_ew_{v}_{s}" for v in VARIANTS for s in ("f32", "f64"))


def _run(name, has_check, rows, cols, operands, out, gouts, go, gos0, gos1, g_scale, params):
    x = operands[0][0]
    rt = runtime_for(x)
    n = rows * cols
    if n == 0:
        return 0.0, 0
    grid = blocks_for(n)
    part = rt.empty(grid, np.float64)
    bad = rt.empty(grid, np.float64) if has_check else None
    args = [rows, cols]
    for k in range(4):
        args += operands[k] if k < len(operands) else (None, 0, 0)
    n_grads = 0
    for g in gouts:
        if g is None:
            break
        n_grads += 1
    gouts = list(gouts) + [None] * (3 - len(gouts))
    params = [float(p) for p in params] + [0.0] * (2 - len(params))
    args += [out, *gouts, n_grads, go, gos0, gos1, float(g_scale), *params, part, bad]
    rt.launch("elementwise", f"fl_ew_{name}_{suffix(x.dtype)}", grid, BLOCK, args)
    res = rt.full(2, 0.0, np.float64)
    rt.launch("elementwise", "fl_finish_sums", 1, FINISH_BLOCK, [part, bad, grid, res])
    if rt.emulated:
        host = rt.read(res)
        return float(host[0]), int(host[1])
    return res[0], (int(rt.read(res[1:2])[0]) if has_check else 0)


def _variant(name, n_ops, n_grads, n_params, has_check):
    def kernel(rows, cols, *args):
        operands = [tuple(args[3 * k:3 * k + 3]) for k in range(n_ops)]
        rest = args[3 * n_ops:]
        out, gouts = rest[0], rest[1:1 + n_grads]
        go, gos0, gos1, g_scale, _n_threads = rest[1 + n_grads:6 + n_grads]
        params = rest[6 + n_grads:6 + n_grads + n_params]
        return _run(name, has_check, rows, cols, operands, out, gouts, go, gos0, gos1, g_scale, params)

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = (f"{name}: ``(sum of the losses, or 0.0 when stored in out; elements failing the check)``, "
                      "as fastloss._cpu.elementwise." + name)
    return kernel


for _name, _sig in VARIANTS.items():
    globals()[_name] = _variant(_name, *_sig)
del _name, _sig
