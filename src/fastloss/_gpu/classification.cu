// The classification losses on the GPU: nll_loss, cross_entropy (class indices or probabilities,
// label smoothing, K-dim inputs), multilabel_soft_margin_loss. The formulas, the order of their
// operations and the precision of each step are the CPU kernels' (_cpu/classification.pyx):
//
// cross_entropy with class indices, smoothing eps, weight w, W = sum(w), target t:
//     loss = (1 - eps) w_t (lse - x_t) + eps / C * sum_c w_c (lse - x_c)
//     dloss/dx_j = (1 - eps) w_t (p_j - [j == t]) + eps / C (W p_j - w_j)
// with probability targets y' = (1 - eps) y + eps / C:
//     loss = sum_c w_c y'_c (lse - x_c),   dloss/dx_j = (sum_c w_c y'_c) p_j - w_j y'_j,
//     dloss/dy_j = (1 - eps) w_j (lse - x_j),
// lse and every sum relative to the row maximum m, p = softmax(x).
//
// Layouts, as the CPU's: a class-dimension input is an (N, C, S) strided view.
// * Row layout (S == 1, class stride 1): a team per row, a warp (C <= 1024) or a whole block
//   (large vocabularies): one read of the row for the online log-sum-exp (running maximum and
//   rescaled sum, fl::OnlineLse), then one pass that writes the gradient row; log_softmax is
//   never stored. Label smoothing and probability targets add one pass for their sums relative to
//   the final maximum (as the CPU takes them).
// * Spatial layout (S > 1, spatial stride 1): a thread per position, looping over classes:
//   neighbouring threads read neighbouring positions (coalesced), no transposed copy.
//
// Index targets are an (N, S) int64 array. The kernels check every target on the device: an entry
// neither ignore_index nor in [0, C) is reported through ``flag`` (its smallest flat position) and
// read as ignored, so nothing is read out of bounds. Reduced losses: each row (or block of
// positions) writes its sum to ``part``; fl_finish_sums adds them in index order.
#include "common.cuh"

namespace fl {

template <typename T>
__device__ __forceinline__ double grad_factor(const T* go, i64 i, double g_scale) {
    // grad_output of one loss element: per-element array (reduction='none') or the scalar scale
    return go != nullptr ? g_scale * (double)go[i] : g_scale;
}

// --- nll_loss ----------------------------------------------------------------------------------------
// loss = -w_t x_t (0 where ignored); gradient -w_t at the target (the caller zeroes the rest).
// A thread per (n, s); each block's loss sum into part[blockIdx.x].
template <typename T>
__device__ __forceinline__ void nll(i64 N, i64 C, i64 S, const T* x, i64 xs0, i64 xs1, i64 xs2, const i64* t,
                                    const T* w, i64 ignore_index, T* out, T* g, const T* go, double g_scale,
                                    double* part, i64* flag) {
    const i64 n_items = N * S, stride = (i64)gridDim.x * blockDim.x;
    double acc = 0.0;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n_items; i += stride) {
        i64 n, s;
        divmod(i, S, n, s);
        const i64 ti = t[i];
        double loss = 0.0;
        if (ti != ignore_index) {
            if (ti < 0 || ti >= C) {
                report_bad_index(flag, i);
            } else {
                const T prod = -w[ti] * x[n * xs0 + ti * xs1 + s * xs2];
                loss = (double)prod;
                if (g != nullptr)
                    g[(n * C + ti) * S + s] = (T)(-grad_factor(go, i, g_scale) * (double)w[ti]);
            }
        }
        if (out != nullptr)
            out[i] = (T)loss;
        else
            acc += loss;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0)
        part[blockIdx.x] = acc;
}

// --- cross_entropy, class indices, row layout ------------------------------------------------------
template <typename T, typename Team>
__device__ __forceinline__ void ce_index_rows(i64 N, i64 C, const T* x, i64 xs0, const i64* t, const T* w,
                                              i64 ignore_index, double eps, const double* W_sum, T* out, T* g,
                                              const T* go, double g_scale, double* part, i64* flag) {
    const i64 n = Team::row();
    if (n >= N)
        return;  // a whole team (warp or block) at once
    const T* xr = x + n * xs0;
    T* gr = g != nullptr ? g + n * C : nullptr;
    const i64 ti = t[n];
    const bool bad = ti != ignore_index && (ti < 0 || ti >= C);
    double loss = 0.0;
    if (ti == ignore_index || bad) {
        if (bad && Team::rank() == 0)
            report_bad_index(flag, n);
        if (gr != nullptr)
            for (i64 c = Team::rank(); c < C; c += Team::size())
                gr[c] = T(0);
    } else {
        OnlineLse<T> st;
        st.init();
        team_row_batched<Team>(C, [&](i64 c) { return xr[c]; }, [&](i64, T v) { st.add(v); });
        st.template reduce<Team>();
        const T m = st.m;
        const double se = st.s;
        double swx = 0.0;
        if (eps != 0.0) {
            // sum_c w_c (x_c - m), the smoothing term relative to the row maximum
            double a = 0.0;
            for (i64 c = Team::rank(); c < C; c += Team::size())
                a += (double)(w[c] * (xr[c] - m));
            swx = Team::sum(a);
        }
        // without smoothing only the target weights count: a non-finite weight elsewhere changes nothing
        const double W = eps != 0.0 ? *W_sum : 0.0, eps_c = eps / (double)C;
        const double lse = f_log(se);
        const double wt = (double)w[ti];
        loss = (1.0 - eps) * wt * (lse - (double)(xr[ti] - m)) + eps_c * (W * lse - swx);
        if (gr != nullptr) {
            const double gm = grad_factor(go, n, g_scale);
            const T fa = (T)(gm * ((1.0 - eps) * wt + eps_c * W) / se);
            const T fb = (T)(gm * eps_c);
            const T ft = (T)(gm * (1.0 - eps) * wt);
            team_row_batched<Team>(C, [&](i64 c) { return xr[c]; }, [&](i64 c, T xc) {
                const T e = f_exp((T)(xc - m));
                T v = fb == T(0) ? e * fa : e * fa - fb * w[c];
                if (c == ti)
                    v = v - ft;
                gr[c] = v;
            });
        }
    }
    if (Team::rank() == 0) {
        if (out != nullptr)
            out[n] = (T)loss;
        else
            part[n] = loss;
    }
}

// --- cross_entropy, class indices, spatial layout ---------------------------------------------------
// Block b covers positions [s0, s0 + blockDim.x) of sample n = b / blocks_per_sample.
template <typename T>
__device__ __forceinline__ void ce_index_spatial(i64 N, i64 C, i64 S, const T* x, i64 xs0, i64 xs1, const i64* t,
                                                 const T* w, i64 ignore_index, double eps, const double* W_sum,
                                                 T* out, T* g, const T* go, double g_scale, double* part,
                                                 i64* flag) {
    const i64 per_sample = (S + blockDim.x - 1) / blockDim.x;
    const i64 n = blockIdx.x / per_sample;
    const i64 s = (blockIdx.x - n * per_sample) * blockDim.x + threadIdx.x;
    double loss = 0.0;
    if (s < S) {
        const T* xr = x + n * xs0 + s;
        const i64 i = n * S + s;
        const i64 ti = t[i];
        const bool bad = ti != ignore_index && (ti < 0 || ti >= C);
        const bool ignored = ti == ignore_index || bad;
        if (bad)
            report_bad_index(flag, i);
        OnlineLse<T> st;
        st.init();
        for (i64 c = 0; c < C; c++)
            st.add(xr[c * xs1]);
        const T m = st.m;
        const double se = st.s;
        double swx = 0.0;
        if (eps != 0.0)
            for (i64 c = 0; c < C; c++)
                swx += (double)(w[c] * (xr[c * xs1] - m));
        // without smoothing only the target weights count: a non-finite weight elsewhere changes nothing
        const double W = eps != 0.0 ? *W_sum : 0.0, eps_c = eps / (double)C;
        T fa = T(0), fb = T(0), ft = T(0);
        if (!ignored) {
            const double lse = f_log(se);
            const double wt = (double)w[ti];
            loss = (1.0 - eps) * wt * (lse - (double)(xr[ti * xs1] - m)) + eps_c * (W * lse - swx);
            const double gm = grad_factor(go, i, g_scale);
            fa = (T)(gm * ((1.0 - eps) * wt + eps_c * W) / se);
            fb = (T)(gm * eps_c);
            ft = (T)(gm * (1.0 - eps) * wt);
        }
        if (g != nullptr) {
            T* gr = g + n * C * S + s;
            for (i64 c = 0; c < C; c++) {
                const T e = f_exp((T)(xr[c * xs1] - m));
                T v = fb == T(0) ? e * fa : e * fa - fb * w[c];
                if (!ignored && c == ti)
                    v = v - ft;
                gr[c * S] = v;
            }
        }
        if (out != nullptr)
            out[i] = (T)loss;
    }
    loss = block_sum(out != nullptr ? 0.0 : loss);
    if (threadIdx.x == 0)
        part[blockIdx.x] = loss;
}

// --- cross_entropy, probability targets, row layout ------------------------------------------------
template <typename T, typename Team>
__device__ __forceinline__ void ce_prob_rows(i64 N, i64 C, const T* x, i64 xs0, const T* y, i64 ys0, const T* w,
                                             double eps, T* out, T* gx, T* gy, const T* go, double g_scale,
                                             double* part) {
    const i64 n = Team::row();
    if (n >= N)
        return;
    const T* xr = x + n * xs0;
    const T* yr = y + n * ys0;
    const double eps_c = eps / (double)C, keep = 1.0 - eps;
    OnlineLse<T> st;
    st.init();
    for (i64 c = Team::rank(); c < C; c += Team::size())
        st.add(xr[c]);
    st.template reduce<Team>();
    const T m = st.m;
    const double se = st.s;
    double swy = 0.0, swyx = 0.0;
    for (i64 c = Team::rank(); c < C; c += Team::size()) {
        const double wy = (double)w[c] * (keep * (double)yr[c] + eps_c);
        swy += wy;
        swyx += wy * (double)(xr[c] - m);
    }
    swy = Team::sum(swy);
    swyx = Team::sum(swyx);
    const double lse = f_log(se);
    const double loss = swy * lse - swyx;
    const double gm = grad_factor(go, n, g_scale);
    if (gx != nullptr) {
        const T fa = (T)(gm * swy / se), fb = (T)gm;
        for (i64 c = Team::rank(); c < C; c += Team::size())
            gx[n * C + c] = f_exp((T)(xr[c] - m)) * fa - fb * w[c] * (T)(keep * (double)yr[c] + eps_c);
    }
    if (gy != nullptr) {
        const T ft = (T)(gm * keep);
        for (i64 c = Team::rank(); c < C; c += Team::size())
            gy[n * C + c] = ft * w[c] * (T)(lse - (double)(xr[c] - m));
    }
    if (Team::rank() == 0) {
        if (out != nullptr)
            out[n] = (T)loss;
        else
            part[n] = loss;
    }
}

// --- cross_entropy, probability targets, spatial layout --------------------------------------------
template <typename T>
__device__ __forceinline__ void ce_prob_spatial(i64 N, i64 C, i64 S, const T* x, i64 xs0, i64 xs1, const T* y,
                                                i64 ys0, i64 ys1, const T* w, double eps, T* out, T* gx, T* gy,
                                                const T* go, double g_scale, double* part) {
    const i64 per_sample = (S + blockDim.x - 1) / blockDim.x;
    const i64 n = blockIdx.x / per_sample;
    const i64 s = (blockIdx.x - n * per_sample) * blockDim.x + threadIdx.x;
    double loss = 0.0;
    if (s < S) {
        const T* xr = x + n * xs0 + s;
        const T* yr = y + n * ys0 + s;
        const i64 i = n * S + s;
        const double eps_c = eps / (double)C, keep = 1.0 - eps;
        OnlineLse<T> st;
        st.init();
        for (i64 c = 0; c < C; c++)
            st.add(xr[c * xs1]);
        const T m = st.m;
        const double se = st.s;
        double swy = 0.0, swyx = 0.0;
        for (i64 c = 0; c < C; c++) {
            const T wy = w[c] * (T)(keep * (double)yr[c * ys1] + eps_c);
            swy += (double)wy;
            swyx += (double)(wy * (xr[c * xs1] - m));
        }
        const double lse = f_log(se);
        const T lse_t = (T)lse;
        loss = swy * lse - swyx;
        const double gm = grad_factor(go, i, g_scale);
        const T fa = (T)(gm * swy / se), fb = (T)gm;
        for (i64 c = 0; c < C; c++) {
            const T xv = xr[c * xs1], wc = w[c];
            if (gx != nullptr)
                gx[(n * C + c) * S + s] = f_exp((T)(xv - m)) * fa - fb * wc * (T)(keep * (double)yr[c * ys1] + eps_c);
            if (gy != nullptr)
                gy[(n * C + c) * S + s] = fb * (T)keep * wc * (lse_t - (xv - m));
        }
        if (out != nullptr)
            out[i] = (T)loss;
    }
    loss = block_sum(out != nullptr ? 0.0 : loss);
    if (threadIdx.x == 0)
        part[blockIdx.x] = loss;
}

// --- multilabel_soft_margin_loss -------------------------------------------------------------------
// Per row: mean over classes of w (y softplus(-x) + (1 - y) softplus(x)); gradients w (sigmoid(x) -
// y) / C and -w x / C (inv_c = 1 / C with torch's C). Operands are 2-D strided views.
template <typename T, typename Team>
__device__ __forceinline__ void multilabel_soft_margin(i64 R, i64 C, const T* x, i64 xs0, i64 xs1, const T* y,
                                                       i64 ys0, i64 ys1, const T* w, i64 ws0, i64 ws1, double inv_c,
                                                       T* out, T* gx, T* gy, const T* go, double g_scale,
                                                       double* part) {
    const i64 r = Team::row();
    if (r >= R)
        return;
    const double gm = grad_factor(go, r, g_scale) * inv_c;
    const T fs = (T)gm;
    double acc = 0.0;
    for (i64 c = Team::rank(); c < C; c += Team::size()) {
        const T xv = x[r * xs0 + c * xs1], yv = y[r * ys0 + c * ys1], wv = w[r * ws0 + c * ws1];
        const T e = f_exp(-f_abs(xv));
        // y softplus(-x) + (1 - y) softplus(x), softplus(+-x) = max(+-x, 0) + log1p(exp(-|x|))
        T sp = f_log1p(e);
        if (xv < 0)
            sp = sp - yv * xv;
        else
            sp = sp + (T(1) - yv) * xv;
        acc += (double)(wv * sp);
        if (gx != nullptr) {
            const T sig = xv >= 0 ? T(1) / (T(1) + e) : e / (T(1) + e);
            gx[r * C + c] = fs * wv * (sig - yv);
        }
        if (gy != nullptr)
            gy[r * C + c] = -fs * wv * xv;
    }
    acc = Team::sum(acc);
    if (Team::rank() == 0) {
        if (out != nullptr)
            out[r] = (T)(acc * inv_c);
        else
            part[r] = acc * inv_c;
    }
}

}  // namespace fl

// --- entry points ---------------------------------------------------------------------------------------

#define FL_NLL_PARAMS(T)                                                                                   \
    i64 N, i64 C, i64 S, const T *x, i64 xs0, i64 xs1, i64 xs2, const i64 *t, const T *w, i64 ignore_index, \
        T *out, T *g, const T *go, double g_scale, double *part, i64 *flag
#define FL_CE_ROWS_PARAMS(T)                                                                             \
    i64 N, i64 C, const T *x, i64 xs0, const i64 *t, const T *w, i64 ignore_index, double eps,            \
        const double *W_sum, T *out, T *g, const T *go, double g_scale, double *part, i64 *flag
#define FL_CE_SPATIAL_PARAMS(T)                                                                          \
    i64 N, i64 C, i64 S, const T *x, i64 xs0, i64 xs1, const i64 *t, const T *w, i64 ignore_index,        \
        double eps, const double *W_sum, T *out, T *g, const T *go, double g_scale, double *part, i64 *flag
#define FL_PROB_ROWS_PARAMS(T)                                                                           \
    i64 N, i64 C, const T *x, i64 xs0, const T *y, i64 ys0, const T *w, double eps, T *out, T *gx, T *gy, \
        const T *go, double g_scale, double *part
#define FL_PROB_SPATIAL_PARAMS(T)                                                                        \
    i64 N, i64 C, i64 S, const T *x, i64 xs0, i64 xs1, const T *y, i64 ys0, i64 ys1, const T *w,          \
        double eps, T *out, T *gx, T *gy, const T *go, double g_scale, double *part
#define FL_MLSM_PARAMS(T)                                                                                 \
    i64 R, i64 C, const T *x, i64 xs0, i64 xs1, const T *y, i64 ys0, i64 ys1, const T *w, i64 ws0, i64 ws1, \
        double inv_c, T *out, T *gx, T *gy, const T *go, double g_scale, double *part

#define FL_FOR_TYPES(M) M(float, f32) M(double, f64)

#define FL_CLASSIFICATION_ENTRIES(T, sfx)                                                                  \
    extern "C" __global__ void __launch_bounds__(256) fl_nll_##sfx(FL_NLL_PARAMS(T)) {                     \
        fl::nll<T>(N, C, S, x, xs0, xs1, xs2, t, w, ignore_index, out, g, go, g_scale, part, flag);        \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) fl_ce_rows_warp_##sfx(FL_CE_ROWS_PARAMS(T)) {        \
        fl::ce_index_rows<T, fl::WarpTeam>(N, C, x, xs0, t, w, ignore_index, eps, W_sum, out, g, go,       \
                                           g_scale, part, flag);                                           \
    }                                                                                                      \
    /* (256, 1): ptxas keeps the row pass's batch in registers (see elementwise.cu's entries) */          \
    extern "C" __global__ void __launch_bounds__(256, 1) fl_ce_rows_block_##sfx(FL_CE_ROWS_PARAMS(T)) {   \
        fl::ce_index_rows<T, fl::BlockTeam>(N, C, x, xs0, t, w, ignore_index, eps, W_sum, out, g, go,      \
                                            g_scale, part, flag);                                          \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) fl_ce_spatial_##sfx(FL_CE_SPATIAL_PARAMS(T)) {       \
        fl::ce_index_spatial<T>(N, C, S, x, xs0, xs1, t, w, ignore_index, eps, W_sum, out, g, go, g_scale, \
                                part, flag);                                                               \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) fl_ce_prob_rows_warp_##sfx(FL_PROB_ROWS_PARAMS(T)) { \
        fl::ce_prob_rows<T, fl::WarpTeam>(N, C, x, xs0, y, ys0, w, eps, out, gx, gy, go, g_scale, part);   \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) fl_ce_prob_rows_block_##sfx(FL_PROB_ROWS_PARAMS(T)) { \
        fl::ce_prob_rows<T, fl::BlockTeam>(N, C, x, xs0, y, ys0, w, eps, out, gx, gy, go, g_scale, part);  \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) fl_ce_prob_spatial_##sfx(FL_PROB_SPATIAL_PARAMS(T)) { \
        fl::ce_prob_spatial<T>(N, C, S, x, xs0, xs1, y, ys0, ys1, w, eps, out, gx, gy, go, g_scale, part); \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) fl_mlsm_warp_##sfx(FL_MLSM_PARAMS(T)) {              \
        fl::multilabel_soft_margin<T, fl::WarpTeam>(R, C, x, xs0, xs1, y, ys0, ys1, w, ws0, ws1, inv_c, out, \
                                                    gx, gy, go, g_scale, part);                            \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256) fl_mlsm_block_##sfx(FL_MLSM_PARAMS(T)) {            \
        fl::multilabel_soft_margin<T, fl::BlockTeam>(R, C, x, xs0, xs1, y, ys0, ys1, w, ws0, ws1, inv_c,   \
                                                     out, gx, gy, go, g_scale, part);                      \
    }

FL_FOR_TYPES(FL_CLASSIFICATION_ENTRIES)
