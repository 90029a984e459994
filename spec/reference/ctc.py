"""CTC references in float64: brute-force enumeration of alignments (tiny problems) and a plain
log-space forward-backward over the blank-extended target, written from Graves et al. (2006) and
torch's documented conventions. No performance tricks; independent of fastloss's kernel."""
import itertools

import numpy as np


def collapse(path, blank):
    """The CTC collapse B: merge repeated symbols, then drop blanks."""
    out = []
    prev = None
    for k in path:
        if k != prev and k != blank:
            out.append(int(k))
        prev = k
    return out


def brute_force_nll(lp, target, blank=0):
    """-log sum over every path of length T (C**T of them) that collapses to ``target``."""
    lp = np.asarray(lp, dtype=np.float64)
    T, C = lp.shape
    target = [int(k) for k in target]
    total = -np.inf
    for path in itertools.product(range(C), repeat=T):
        if collapse(path, blank) == target:
            total = np.logaddexp(total, sum(lp[t, k] for t, k in enumerate(path)))
    if T == 0:
        total = 0.0 if not target else -np.inf
    return -total


def forward_backward(lp, target, blank=0):
    """(nll, posterior (T, C)) of one sample: lp is (T, C) for its input length.

    alpha_t(s) = lp_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [alpha_{t-1}(s-2) if
    l'_s != blank and l'_s != l'_{s-2}]); beta symmetric; posterior of class k at t:
    sum_{s: l'_s = k} exp(alpha_t(s) + beta_t(s) - lp_t(k) + nll).
    """
    lp = np.asarray(lp, dtype=np.float64)
    T, C = lp.shape
    ext = [blank]
    for k in target:
        ext += [int(k), blank]
    S = len(ext)
    if T == 0:
        return (0.0 if not target else np.inf), np.zeros((0, C))
    alpha = np.full((T, S), -np.inf)
    alpha[0, 0] = lp[0, ext[0]]
    if S > 1:
        alpha[0, 1] = lp[0, ext[1]]
    for t in range(1, T):
        for s in range(S):
            terms = [alpha[t - 1, s]]
            if s >= 1:
                terms.append(alpha[t - 1, s - 1])
            if s >= 2 and ext[s] != ext[s - 2]:
                terms.append(alpha[t - 1, s - 2])
            alpha[t, s] = np.logaddexp.reduce(terms) + lp[t, ext[s]]
    ends = [alpha[T - 1, S - 1]] + ([alpha[T - 1, S - 2]] if S > 1 else [])
    ll = np.logaddexp.reduce(ends)
    beta = np.full((T, S), -np.inf)
    beta[T - 1, S - 1] = lp[T - 1, ext[S - 1]]
    if S > 1:
        beta[T - 1, S - 2] = lp[T - 1, ext[S - 2]]
    for t in range(T - 2, -1, -1):
        for s in range(S):
            terms = [beta[t + 1, s]]
            if s + 1 < S:
                terms.append(beta[t + 1, s + 1])
            if s + 2 < S and ext[s + 2] != ext[s]:
                terms.append(beta[t + 1, s + 2])
            beta[t, s] = np.logaddexp.reduce(terms) + lp[t, ext[s]]
    post = np.zeros((T, C))
    if np.isfinite(ll):
        for t in range(T):
            for s in range(S):
                if lp[t, ext[s]] == -np.inf:
                    continue  # a state this step cannot emit carries no posterior mass
                v = alpha[t, s] + beta[t, s] - lp[t, ext[s]] - ll
                if v > -np.inf:
                    post[t, ext[s]] += np.exp(v)
    return -ll, post


def split_samples(log_probs, targets, input_lengths, target_lengths):
    """``(lp, il, tl, batched, [(log_probs_n[:T_n], target_n), ...])``: each sample's own slice,
    from padded or concatenated targets."""
    lp = np.asarray(log_probs, dtype=np.float64)
    batched = lp.ndim == 3
    if not batched:
        lp = lp[:, None, :]
    il = np.asarray(input_lengths).reshape(-1).astype(np.int64)
    tl = np.asarray(target_lengths).reshape(-1).astype(np.int64)
    tg = np.asarray(targets).astype(np.int64)
    out = []
    offset = 0
    for n in range(lp.shape[1]):
        if tg.ndim == 2:
            target = tg[n, :tl[n]]
        else:
            target = tg[offset:offset + tl[n]]
            offset += tl[n]
        out.append((lp[:il[n], n, :], list(target)))
    return lp, il, tl, batched, out


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False,
             grad_output=None):
    """Loss and torch's gradient convention: d/d log_probs = scale * (exp(log_probs) - posterior),
    rows t >= input_length 0, nan rows for an infinite loss (0 with zero_infinity)."""
    lp, il, tl, batched, samples = split_samples(log_probs, targets, input_lengths, target_lengths)
    T, N, C = lp.shape
    nll = np.zeros(N)
    grads = np.zeros((T, N, C))
    for n, (x, target) in enumerate(samples):
        nll[n], post = forward_backward(x, target, blank)
        if np.isfinite(nll[n]):
            grads[:il[n], n, :] = np.exp(x) - post
        elif not zero_infinity:
            grads[:il[n], n, :] = np.nan
    if zero_infinity:
        nll = np.where(nll == np.inf, 0.0, nll)
    go = 1.0 if grad_output is None else np.asarray(grad_output, dtype=np.float64)
    if reduction == "none":
        loss = nll if batched else nll.reshape(())
        scale = np.broadcast_to(go, loss.shape).reshape(-1) * np.ones(N)
    elif reduction == "sum":
        loss = nll.sum()
        scale = np.full(N, float(go))
    else:
        loss = (nll / np.maximum(tl, 1)).mean()
        scale = float(go) / (N * np.maximum(tl, 1))
    grads = grads * scale[None, :, None]
    if not batched:
        grads = grads[:, 0, :]
    return np.asarray(loss, dtype=np.float64), {"log_probs": grads}
