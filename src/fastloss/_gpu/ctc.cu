// CTC loss on the GPU: one block per sample, the 2L+1 states of its blank-extended target spread
// over the block's threads (state s at thread s mod blockDim.x: any target length, each thread
// looping over its tiles of states), neighbours through shared memory (global memory for very
// long targets). The sums mirror the CPU kernel (_cpu/ctc.pyx):
//
//   alpha_t(s) = log( alpha_{t-1}(s) + alpha_{t-1}(s-1) + skip_s alpha_{t-1}(s-2) ) + lp_t(class(s))
//   log Z = log( alpha_{T-1}(2L) + alpha_{T-1}(2L-1) )
//   beta_t(s) = log( b_{t+1}(s) + b_{t+1}(s+1) + skip_{s+2} b_{t+1}(s+2) ),  b_t(s) = beta_t(s) + lp_t(class(s))
//   grad[t, n, k] = scale_n (exp(lp_t(k)) - sum_{s: class(s) = k} exp(alpha_t(s) + beta_t(s) - log Z))
//
// class(2j) = blank, class(2j+1) = label j; skip_s: s odd and label (s-1)/2 differs from the one
// before. The recurrence runs in log space, in double: no probability underflows, so a finite loss
// is never turned into inf or nan (the guarantee the CPU kernel gets from rescaling with its
// log-space fallback). Only the band of states that are reachable at t and can still reach the end
// is computed (the others are -inf in alpha and beta alike).
//
// The gradient is fused into the beta sweep: alpha rows are stored (one table per sample), beta
// runs backwards with two rows, and each step writes its gradient row as soon as beta_t is known.
// Deterministic: a class's posterior is the sum over its states in a fixed order (the blank's
// even states by a block reduction, a label's occurrences along a precomputed chain, first to
// last), no atomics. Rows t >= input_length are 0; an infeasible sample (or log Z = -inf or NaN)
// has NaN rows, 0 with zero_infinity for an infinite loss; an input length of 0 gives -0.0 for an
// empty target, inf otherwise -- all as the CPU kernel.
//
// Labels are checked on the device: a label outside [0, C) is reported through ``flag`` (its
// position in the flat targets) and the sample is skipped before any log-prob is read with it.
#include "common.cuh"

namespace fl {

__device__ __forceinline__ double log_add3(double a, double b, double c) {
    const double m = max_nan(max_nan(a, b), c);
    if (m == -inf_d() || m != m)
        return m;
    return m + log(exp(a - m) + exp(b - m) + exp(c - m));
}

// the band of states s in [lo, hi] reachable at t that can still reach the end (the CPU's band())
__device__ __forceinline__ void band(i64 t, i64 Tn, i64 L, i64& lo, i64& hi) {
    lo = imax(0, 2 * L - 1 - 2 * (Tn - 1 - t));
    hi = imin(2 * t + 1, 2 * L);
}

// The sweeps ask for the log-prob row (and, going back, the alpha row) CTC_AHEAD steps ahead:
// each step's first read of a row would otherwise wait for device memory (a step's work is short).
constexpr i64 CTC_AHEAD = 4;

// prefetch_l2 of n elements of size ``size`` from p, a cache line (128 bytes) per thread
__device__ __forceinline__ void prefetch_row(const void* p, i64 n, i64 size) {
    const char* b = static_cast<const char*>(p);
    for (i64 off = (i64)threadIdx.x * 128; off < n * size; off += (i64)blockDim.x * 128)
        prefetch_l2(b + off);
}

template <typename T>
__device__ __forceinline__ void fill_grad_rows(T* gn, i64 gts, i64 t0, i64 t1, i64 C, double value) {
    const T v = (T)value;
    for (i64 t = t0; t < t1; t++)
        for (i64 c = threadIdx.x; c < C; c += blockDim.x)
            gn[t * gts + c] = v;
}

template <typename T>
__device__ __forceinline__ void ctc(i64 T_all, i64 N, i64 C, const T* lp, i64 ts, i64 ns, const i64* targets,
                                    const i64* offsets, const i64* target_lengths, const i64* input_lengths,
                                    i64 blank, double* nll, T* grad, const double* grad_scale, i64 zero_infinity,
                                    double* alpha, i64 alpha_rows, i64 row_len, double* rows_ws, i64* links,
                                    i64* flag) {
    const i64 n = blockIdx.x;
    const int tid = threadIdx.x, nt = blockDim.x;
    const i64 L = target_lengths[n], Tn = input_lengths[n];
    const i64* lab = targets + offsets[n];
    const T* lpn = lp + n * ns;
    const i64 gts = N * C;
    T* gn = grad != nullptr ? grad + n * C : nullptr;
    const double NEG_INF = -inf_d();

    // labels in [0, C): checked before any log-prob is read with one
    i64 bad = 0x7FFFFFFFFFFFFFFFLL;
    for (i64 j = tid; j < L; j += nt)
        if (lab[j] < 0 || lab[j] >= C)
            bad = imin(bad, j);
    bad = block_min_i(bad);
    if (bad != 0x7FFFFFFFFFFFFFFFLL) {
        if (tid == 0) {
            report_bad_index(flag, offsets[n] + bad);
            nll[n] = nan_d();
        }
        if (gn != nullptr)
            fill_grad_rows(gn, gts, 0, T_all, C, 0.0);
        return;
    }
    if (gn != nullptr)
        fill_grad_rows(gn, gts, Tn, T_all, C, 0.0);
    if (Tn == 0) {
        if (tid == 0)
            nll[n] = L == 0 ? -0.0 : inf_d();
        return;
    }
    // fewest steps that emit the target: a label each, a blank between repeats
    i64 repeats = 0;
    for (i64 j = 1 + tid; j < L; j += nt)
        repeats += lab[j] == lab[j - 1];
    repeats = block_sum_i(repeats);
    if (L + repeats > Tn) {
        if (tid == 0)
            nll[n] = inf_d();
        if (gn != nullptr)
            fill_grad_rows(gn, gts, 0, Tn, C, zero_infinity ? 0.0 : nan_d());
        return;
    }

    // two state rows and the posterior row: shared memory, or this sample's global workspace
    double* rows = rows_ws != nullptr ? rows_ws + n * 3 * row_len : reinterpret_cast<double*>(fl_dynamic_smem);
    // state rows: row(t & 1); the posterior row after them
    auto row = [rows, row_len](i64 parity) { return rows + parity * row_len; };
    double* gam = rows + 2 * row_len;
    const i64 S2 = 2 * L + 1;
    for (i64 s = tid; s < S2; s += nt)
        row(0)[s] = row(1)[s] = NEG_INF;
    double* table = alpha != nullptr ? alpha + n * alpha_rows * row_len : nullptr;
    __syncthreads();

    // --- alpha -------------------------------------------------------------------------------------------
    i64 lo, hi;
    band(0, Tn, L, lo, hi);
    for (i64 s = lo + tid; s <= hi; s += nt) {
        const double v = s == 0 ? (double)lpn[blank] : (s == 1 ? (double)lpn[lab[0]] : NEG_INF);
        row(0)[s] = v;
        if (table != nullptr)
            table[s] = v;
    }
    for (i64 t = 1; t < Tn; t++) {
        __syncthreads();  // row t - 1 complete (and, two steps back, fully read)
        const double* prev = row((t - 1) & 1);
        double* cur = row(t & 1);
        const T* lpt = lpn + t * ts;
        if (t + CTC_AHEAD < Tn)
            prefetch_row(lpt + CTC_AHEAD * ts, C, sizeof(T));
        band(t, Tn, L, lo, hi);
        for (i64 s = lo + tid; s <= hi; s += nt) {
            double v;
            if (s & 1) {
                const i64 j = s >> 1;
                const double skip = (j > 0 && lab[j] != lab[j - 1]) ? prev[s - 2] : NEG_INF;
                v = log_add3(prev[s], prev[s - 1], skip) + (double)lpt[lab[j]];
            } else {
                v = log_add3(prev[s], s > 0 ? prev[s - 1] : NEG_INF, NEG_INF) + (double)lpt[blank];
            }
            cur[s] = v;
            if (table != nullptr)
                table[t * row_len + s] = v;
        }
    }
    __syncthreads();
    const double* last = row((Tn - 1) & 1);
    const double logz = log_add3(last[2 * L], L > 0 ? last[2 * L - 1] : NEG_INF, NEG_INF);
    if (tid == 0)
        nll[n] = -logz;
    if (gn == nullptr)
        return;
    if (!(logz > NEG_INF && logz < inf_d())) {
        // no alignment (inf) or NaN: torch's gradient is NaN; zero_infinity zeroes infinite losses
        fill_grad_rows(gn, gts, 0, Tn, C, (zero_infinity && logz == NEG_INF) ? 0.0 : nan_d());
        return;
    }

    // --- the classes' state chains: head[j] (label j is its class's first occurrence), next[j] ---
    i64* next = links + n * 2 * row_len;
    i64* head = next + row_len;
    i64 first_blank = 0x7FFFFFFFFFFFFFFFLL;
    for (i64 j = tid; j < L; j += nt) {
        const i64 k = lab[j];
        i64 nx = -1, h = 1;
        for (i64 i = j + 1; i < L; i++)
            if (lab[i] == k) {
                nx = i;
                break;
            }
        for (i64 i = 0; i < j; i++)
            if (lab[i] == k) {
                h = 0;
                break;
            }
        next[j] = nx;
        head[j] = h;
        if (k == blank)
            first_blank = imin(first_blank, j);
    }
    first_blank = block_min_i(first_blank);  // (its barriers also publish next[] and head[])
    for (i64 s = tid; s < S2; s += nt)
        row(0)[s] = row(1)[s] = NEG_INF;

    // --- beta, fused with the gradient ------------------------------------------------------------------
    const double scale = grad_scale[n];
    for (i64 t = Tn - 1; t >= 0; t--) {
        __syncthreads();  // b_{t+1} complete; the previous step's posterior row fully read
        const double* nxt = row((t + 1) & 1);
        double* cur = row(t & 1);
        const T* lpt = lpn + t * ts;
        if (t >= CTC_AHEAD) {
            prefetch_row(lpt - CTC_AHEAD * ts, C, sizeof(T));
            prefetch_row(table + (t - CTC_AHEAD) * row_len, S2, sizeof(double));
        }
        band(t, Tn, L, lo, hi);
        for (i64 s = lo + tid; s <= hi; s += nt) {
            double beta;
            if (t == Tn - 1) {
                beta = (s == 2 * L || s == 2 * L - 1) ? 0.0 : NEG_INF;
            } else {
                const double b1 = s + 1 <= 2 * L ? nxt[s + 1] : NEG_INF;
                // s -> s + 2 skips a blank: s + 2 is a label differing from the label before it
                const bool skip = s + 2 <= 2 * L && ((s + 2) & 1) && lab[(s + 2) >> 1] != lab[((s + 2) >> 1) - 1];
                beta = log_add3(nxt[s], b1, skip ? nxt[s + 2] : NEG_INF);
            }
            const i64 k = (s & 1) ? lab[s >> 1] : blank;
            cur[s] = beta + (double)lpt[k];
            const double a = table[t * row_len + s];
            gam[s] = (a == NEG_INF || beta == NEG_INF) ? 0.0 : exp(a + beta - logz);
        }
        __syncthreads();
        T* gt = gn + t * gts;
        for (i64 c = tid; c < C; c += nt)
            gt[c] = (T)(scale * exp((double)lpt[c]));
        // the blank's posterior: its even states (a block reduction) and any label equal to blank
        double even = 0.0;
        for (i64 s = lo + ((lo & 1) ? 1 : 0) + 2 * tid; s <= hi; s += 2 * nt)
            even += gam[s];
        even = block_sum(even);  // (its barriers also order the exp row's writes before the heads')
        for (i64 j = tid; j < L; j += nt) {
            const i64 k = lab[j];
            if (!head[j] || k == blank)
                continue;
            double post = 0.0;
            for (i64 i = j; i >= 0; i = next[i]) {
                const i64 s = 2 * i + 1;
                if (s >= lo && s <= hi)
                    post += gam[s];
            }
            gt[k] = (T)(scale * (exp((double)lpt[k]) - post));
        }
        if (tid == 0) {
            double post = even;
            for (i64 i = first_blank; i >= 0 && i < L; i = next[i]) {
                const i64 s = 2 * i + 1;
                if (s >= lo && s <= hi)
                    post += gam[s];
            }
            gt[blank] = (T)(scale * (exp((double)lpt[blank]) - post));
        }
    }
}

}  // namespace fl

#define FL_CTC_PARAMS(T)                                                                                     \
    i64 T_all, i64 N, i64 C, const T *lp, i64 ts, i64 ns, const i64 *targets, const i64 *offsets,             \
        const i64 *target_lengths, const i64 *input_lengths, i64 blank, double *nll, T *grad,                \
        const double *grad_scale, i64 zero_infinity, double *alpha, i64 alpha_rows, i64 row_len, double *rows_ws, \
        i64 *links, i64 *flag
#define FL_CTC_ARGS                                                                                        \
    T_all, N, C, lp, ts, ns, targets, offsets, target_lengths, input_lengths, blank, nll, grad, grad_scale, \
        zero_infinity, alpha, alpha_rows, row_len, rows_ws, links, flag

extern "C" __global__ void __launch_bounds__(256, 2) fl_ctc_f32(FL_CTC_PARAMS(float)) { fl::ctc<float>(FL_CTC_ARGS); }
extern "C" __global__ void __launch_bounds__(256, 2) fl_ctc_f64(FL_CTC_PARAMS(double)) { fl::ctc<double>(FL_CTC_ARGS); }
