"""The CTC kernel's GPU namespace: ``ctc_loss`` with the arguments of
``fastloss._cpu.ctc.ctc_loss`` (it fills ``nll`` and ``grad``), launching ``ctc.cu``: one block
per sample. ``order`` and ``n_threads`` (the CPU's work queue and team) have no meaning here.

Workspaces: the alpha table (samples x max input length x (2 max target length + 1) doubles)
when the gradient is wanted; per-sample label chains; the state rows live in shared memory, or in
a global workspace when a target is too long for it (no limit on target length). The launch
shape needs the largest lengths on the host: lengths given as host arrays cost nothing, device
arrays are read once (torch's CUDA CTC also takes them to the host).
"""
import numpy as np

from ._runtime import check_index_flag, index_flag, runtime_for, suffix

KERNELS = ("fl_ctc_f32", "fl_ctc_f64")

SHARED_LIMIT = 48 * 1024   # dynamic shared memory available without opting in


def block_size(row_len):
    """Threads of a sample's block: enough for its states, a multiple of 32, 64..256."""
    return int(min(256, max(64, (row_len + 31) // 32 * 32)))


def _host(rt, a):
    return a if isinstance(a, np.ndarray) else rt.read(a)


def ctc_loss(log_probs, targets, offsets, target_lengths, input_lengths, order, blank, nll, grad, grad_scale,
             zero_infinity, n_threads):
    """Per-sample negative log-likelihoods into ``nll``; with ``grad`` (T, N, C), the gradient too."""
    T, N, C = log_probs.shape
    if N == 0:
        return
    rt = runtime_for(log_probs)
    xp = rt.xp
    tl_host = _host(rt, target_lengths)
    il_host = _host(rt, input_lengths)
    l_max = int(tl_host.max())
    t_max = int(il_host.max())
    row_len = 2 * l_max + 1
    block = block_size(row_len)
    shared = 3 * row_len * 8
    rows_ws = None
    if shared > SHARED_LIMIT:
        rows_ws = rt.empty(N * 3 * row_len, np.float64)
        shared = 0
    alpha = rt.empty(max(1, N * t_max * row_len), np.float64) if grad is not None else None
    links = rt.empty(N * 2 * row_len, np.int64)
    flag = index_flag(rt)
    ts, ns, cs = (s // log_probs.itemsize for s in log_probs.strides)
    assert cs == 1, "the caller gives log_probs with class stride 1"

    def dev(a):  # lengths may come from the host (the usual case)
        return a if rt.emulated or isinstance(a, xp.ndarray) else xp.asarray(a)

    rt.launch("ctc", f"fl_ctc_{suffix(log_probs.dtype)}", N, block,
              [T, N, C, log_probs, ts, ns, dev(targets), dev(offsets), dev(target_lengths), dev(input_lengths),
               int(blank), nll, grad, dev(grad_scale) if grad is not None else None, int(bool(zero_infinity)),
               alpha, t_max, row_len, rows_ws, links, flag], shared=shared)
    check_index_flag(rt, flag, "targets")
