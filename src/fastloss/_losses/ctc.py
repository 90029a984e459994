"""Connectionist Temporal Classification loss: torch's semantics, checks and reductions.

The per-sample forward-backward runs in ``_cpu/ctc.pyx``; this module normalises the arguments
(unbatched shapes, padded or concatenated targets, lengths of any integer type), refuses what
torch refuses (and target labels outside ``[0, C)``, which torch reads out of bounds) and
allocates. The sample order, the gradient scales, ``zero_infinity`` and the reduction are stated
once, in the compiled module (``_cpu/ctc.pyx``), for this general path and the compiled common case.
"""
import functools

import numpy as np

from .. import _backend
from .._autograd import loss_function
from .._reduction import resolve_reduction
from .._validation import as_array, as_bool, as_int, check_ndim, float_operands, index_array, index_bounds
from ._common import common_case_entry, finish_grad, reduced_grad_scale, threads_for


def _lengths(value, name, batch):
    """A length argument as an int64 vector of size ``batch``: torch reads any shape of ``batch``
    values ((N,), (1, N), (N, 1); 0-d or (1, 1) unbatched). Lengths live on the host: device
    lengths are read once (torch's CUDA CTC takes them to the host too)."""
    arr = index_array(_backend.to_host(value), name)
    arr = arr.reshape(-1)
    if arr.shape[0] != batch:
        raise ValueError(f"{name} must be of size batch_size ({batch}), got {arr.shape[0]} values")
    return np.ascontiguousarray(arr)


def _targets(targets, batched):
    arr = as_array(targets, "targets")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)  # torch reads bool labels as 0 and 1
    elif arr.dtype.kind == "f":
        # torch converts floating targets to integers (truncation toward zero)
        if not _backend.to_host(_backend.array_module(arr).isfinite(arr).all()):  # a rare case: a read on a device
            raise ValueError("targets holds a non-finite value")
        arr = arr.astype(np.int64)
    return index_array(arr, "targets")


def _label_error(label, sample, position, num_classes):
    return IndexError(f"targets: label {int(label)} of sample {int(sample)} at position {int(position)} is out "
                      f"of range for {num_classes} classes (valid range [0, {num_classes}))")


def _check_labels(tg, tl, offsets, C):
    """Every used label of the host targets ``tg`` (padded (N, S) or concatenated) in ``[0, C)``,
    else the IndexError naming the first bad one (sample and position)."""
    if tg.size:
        low, high = index_bounds(tg)
        if 0 <= low and high < C:
            return  # the common case, proved by the bounds alone (padding included)
    if tg.ndim == 2:
        S = tg.shape[1]
        # only the first target_lengths[n] entries of each row are labels (the rest is padding)
        bad = ((tg < 0) | (tg >= C)) & (np.arange(S)[None, :] < tl[:, None])
        if bad.any():
            n, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
            raise _label_error(tg[n, j], n, j, C)
    else:
        bad = (tg < 0) | (tg >= C)
        if bad.any():
            i = int(np.argmax(bad))
            n = int(np.searchsorted(np.cumsum(tl), i, side="right"))
            raise _label_error(tg[i], n, i - offsets[n], C)


def _prepare(log_probs, targets, input_lengths, target_lengths, blank):
    """Validated kernel operands: (lp (T, N, C), flat targets, offsets, tl, il, blank, batched)."""
    arrays, originals, out_dtype, work = float_operands({"log_probs": log_probs})
    lp = arrays["log_probs"]
    check_ndim(lp, "log_probs", (2, 3))
    if lp.size == 0:
        raise ValueError(f"log_probs must not be empty, got shape {lp.shape}")
    batched = lp.ndim == 3
    if not batched:
        lp = lp[:, None, :]
    T, N, C = lp.shape
    blank = as_int(blank, "blank")
    if not 0 <= blank < C:
        raise ValueError(f"blank={blank} must be in the label range [0, {C})")
    il = _lengths(input_lengths, "input_lengths", N)
    tl = _lengths(target_lengths, "target_lengths", N)
    il_low, il_high = index_bounds(il)
    tl_low, tl_high = index_bounds(tl)
    if il_low < 0:
        raise ValueError(f"input_lengths must be non-negative, got {il_low}")
    if il_high > T:
        raise ValueError(f"input_lengths must be at most T={T} (log_probs.shape[0]), got {il_high}")
    if tl_low < 0:
        raise ValueError(f"target_lengths must be non-negative, got {tl_low}")

    tg = _targets(targets, batched)
    if _backend.array_module(lp) is np:  # device targets need device log_probs (host targets are uploaded)
        _backend.check_same_backend({"log_probs": lp, "targets": tg})
    if tg.ndim not in (1, 2):
        raise ValueError(f"targets must have 1 or 2 dimensions, got {tg.ndim} (shape {tg.shape})")
    if tg.ndim == 2:
        # padded (N, S)
        if tg.shape[0] != N:
            raise ValueError(f"targets.shape[0]={tg.shape[0]} must equal the batch size {N}")
        S = tg.shape[1]
        if tl_high > S:
            raise ValueError(f"target_lengths must be at most targets.shape[1]={S}, got {tl_high}")
        tg = _backend.array_module(tg).ascontiguousarray(tg)
        flat = tg.reshape(-1)
        offsets = np.arange(N, dtype=np.int64) * S
    else:
        total = int(tl.sum())
        if tg.shape[0] != total:
            raise ValueError(f"concatenated targets must have size sum(target_lengths)={total}, got {tg.shape[0]}")
        flat = _backend.array_module(tg).ascontiguousarray(tg)
        offsets = np.cumsum(tl) - tl
    if _backend.array_module(tg) is np:  # device targets: the kernel checks the used labels (BadIndex)
        _check_labels(tg, tl, offsets, C)
    if lp.strides[2] != lp.itemsize:
        lp = _backend.array_module(lp).ascontiguousarray(lp)
    return lp, flat, offsets.astype(np.int64, copy=False), tl, il, blank, batched, originals["log_probs"], out_dtype, tg


def _fast_ctc(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity, grad):
    """ctc_loss in the common case, computed by the kernel module's compiled ``common_case`` (its
    docstring: plain NumPy arrays, padded int64 targets, int64 lengths, every length and used label
    in range, 'mean'/'sum', no grad_output), whose result equals the general path's bit for bit.
    Returns None for any other call: the general path checks (and refuses) and computes it."""
    entry = common_case_entry("ctc")
    return None if entry is None else entry(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                                            zero_infinity, grad)


@loss_function(differentiable=("log_probs",))
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False,
             *, _grad=None):
    r"""Connectionist Temporal Classification loss (Graves et al., 2006), as ``torch.nn.functional.ctc_loss``.

    ``log_probs`` (T, N, C) or unbatched (T, C): log-probabilities of C classes (``blank`` among
    them) for T time steps. ``targets``: padded (N, S) or concatenated (sum(target_lengths),)
    class indices ((S,) or (1, S) unbatched). Lengths: sequences of N integers (0-d or one value
    unbatched), any integer dtype.

    Loss of sample n: :math:`-\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)} \prod_{t < T_n} p_t(\pi_t)`,
    the sum over every alignment of length ``input_lengths[n]`` that collapses (merge repeats,
    drop blanks) to the target. No alignment: ``inf`` (0 with ``zero_infinity=True``).
    ``'mean'`` divides each loss by ``max(target_length, 1)`` and averages over the batch;
    ``'sum'`` adds; ``'none'`` gives (N,) or () unbatched.

    Gradient (torch's convention, through :func:`fastloss.value_and_grad`):
    :math:`g_{t,n,k} = s_n (e^{\mathrm{lp}_{t,n,k}} - \gamma_{t,n}(k))` with :math:`\gamma` the
    posterior of emitting k at t and :math:`s_n` the reduction scale times grad_output. It is the
    gradient with respect to the logits when log_probs = log_softmax(logits), not the partial
    derivative with respect to log_probs. Rows t >= input_length are 0; a sample with an infinite
    loss has nan rows (as in torch), or 0 with ``zero_infinity``. Where log_probs is -inf (and the
    loss finite) the gradient is 0, where torch's -inf - -inf arithmetic gives nan.

    Torch quirks kept: a label equal to ``blank`` inside a target is accepted (it acts as an
    ordinary label in the lattice, skips allowed when it differs from the previous label), with
    torch's loss value; its gradient is the exact derivative of that value (torch's own gradient
    disagrees with its loss when the target ends with the blank label). An input length of 0
    gives loss -0.0 for an empty target. Refused (torch
    reads out of bounds instead): a used target label outside [0, C), as an IndexError naming
    the sample and position.
    """
    fast = _fast_ctc(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity, _grad)
    if fast is not None:
        return fast
    reduction = resolve_reduction(reduction)
    zero_infinity = as_bool(zero_infinity, "zero_infinity")
    lp, flat, offsets, tl, il, blank, batched, original, out_dtype, tg = _prepare(
        log_probs, targets, input_lengths, target_lengths, blank)
    T, N, C = lp.shape
    xp = _backend.array_module(lp)  # host targets with device log_probs are uploaded, as torch does
    mode = _MODES[reduction]
    want = _grad is not None and _grad.wants("log_probs")
    g, per_sample = _grad_output(_grad, reduction, N, batched) if want else (1.0, None)
    grad_out = xp.empty((T, N, C), dtype=lp.dtype) if want else None
    nll = xp.empty(N, dtype=np.float64)
    # The sample order, the team, the gradient scales, zero_infinity and the reduction are the
    # compiled module's (_cpu/ctc.pyx, stated once for this path and the common case's): the CPU
    # kernels run them in one call; the device path takes the scales from it and reduces there the
    # losses it reads back (lengths live on the host; the GPU kernels have no work queue).
    kernels = _backend.kernels("ctc", lp)
    host_loss = getattr(kernels, "host_loss", None)  # the CPU kernels' (the GPU namespace has the kernel alone)
    try:
        if host_loss is not None:
            total = host_loss(lp, flat, offsets, tl, il, blank, mode, zero_infinity, nll, grad_out, g, per_sample,
                              threads_for)
        else:
            rules = _rules()
            scales = None
            if want:
                scales = rules.grad_scales(tl, mode, g) if per_sample is None else per_sample
            kernels.ctc_loss(lp, flat, offsets, tl, il, None, blank, nll, grad_out, scales, zero_infinity, 1)
            host_nll = np.ascontiguousarray(_backend.to_host(nll))  # the losses' one read (N values)
            total = rules.reduce_losses(host_nll, tl, mode, zero_infinity)
            nll = xp.asarray(host_nll)
    except IndexError as bad:  # a used device label out of range (fastloss._gpu.BadIndex): name it as the CPU path
        _check_labels(_backend.to_host(tg), tl, offsets, C)
        raise bad

    if reduction == "none":
        loss = (nll if batched else nll.reshape(())).astype(out_dtype)
    else:
        loss = xp.asarray(total, dtype=out_dtype)
    if _grad is None:
        return loss
    grads = {}
    if grad_out is not None:
        grads["log_probs"] = finish_grad(grad_out if batched else grad_out.reshape(T, C), original)
    return loss, grads


# The reduction as the compiled module numbers it (common_case.pxd's mean_or_sum, and 'none')
_MODES = {"sum": 0, "mean": 1, "none": 2}


@functools.cache
def _rules():
    """The compiled module that states the loss's rules, for the device path's host values."""
    from .. import _cpu

    return _cpu.kernels("ctc")


def _grad_output(grad, reduction, N, batched):
    """grad_output as the kernels take it: ``(g, None)``, one float for the loss (or every sample),
    or with 'none' ``(1.0, one float64 per sample)`` (on its device)."""
    if reduction != "none":
        return reduced_grad_scale(grad, 1.0, "ctc_loss"), None
    go = grad.grad_output
    if go is None:
        return 1.0, None
    if go.ndim == 0 or go.size == 1 and not batched:
        return float(_backend.to_host(go.reshape(()))), None
    if tuple(go.shape) != (N,):
        raise ValueError(f"ctc_loss: grad_output.shape={tuple(go.shape)} must equal the loss's shape ({N},)")
    return 1.0, _backend.array_module(go).ascontiguousarray(go, dtype=np.float64)  # stays on its device
