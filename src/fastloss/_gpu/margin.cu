// The class-margin losses on the GPU: multi_margin_loss and multilabel_margin_loss, a team (a warp,
// or a block for long rows) per row of a C-contiguous (N, C) input. Each row writes its loss to
// rowloss (double; the caller reduces in a fixed order) and, when asked, its gradient row already
// scaled by the row's grad_output. The formulas and precisions are the CPU kernels'
// (_cpu/margin.pyx); targets are checked on the device (``flag``: the first bad flat position).
#include "common.cuh"

namespace fl {

// multi_margin_loss: rowloss = sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C; as torch's CPU
// kernel z is formed in the input's precision and the weight multiplies z^p; sums in double.
// Gradient g = g_scale go_r w_y / C: p = 1: g where z > 0; p = 2: 2 g z; the target's entry is
// minus the row's sum.
template <typename T, typename Team>
__device__ __forceinline__ void multi_margin(i64 rows, i64 C, const T* x, const i64* target, const T* weight,
                                             double margin, i64 p, double* rowloss, T* gx, const T* go,
                                             double g_scale, i64* flag) {
    const i64 r = Team::row();
    if (r >= rows)
        return;
    const T* xr = x + r * C;
    const i64 t = target[r];
    if (t < 0 || t >= C) {
        if (Team::rank() == 0) {
            report_bad_index(flag, r);
            rowloss[r] = nan_d();
        }
        if (gx != nullptr)
            for (i64 i = Team::rank(); i < C; i += Team::size())
                gx[r * C + i] = T(0);
        return;
    }
    const T xt = (T)margin - xr[t];
    const T wt = weight != nullptr ? weight[t] : T(1);
    const T g = (T)(g_scale * (go != nullptr ? (double)go[r] : 1.0) * (double)wt / (double)C);
    const T g2 = g + g;
    double h_sum = 0.0, g_sum = 0.0;
    for (i64 i = Team::rank(); i < C; i += Team::size()) {
        if (i == t)
            continue;  // the target's own term (z = margin) is not part of the loss
        T z = xt + xr[i];
        T h, gi;
        if (p == 1) {
            h = z > 0 ? z : T(0);
            gi = z > 0 ? g : T(0);
        } else {
            z = z > 0 ? z : T(0);
            h = z * z;
            gi = g2 * z;
        }
        h_sum += (double)h;
        if (gx != nullptr) {
            gx[r * C + i] = gi;
            g_sum += (double)gi;
        }
    }
    h_sum = Team::sum(h_sum);
    if (gx != nullptr)
        g_sum = Team::sum(g_sum);
    if (Team::rank() == 0) {
        rowloss[r] = h_sum * (double)wt / (double)C;
        if (gx != nullptr)
            gx[r * C + t] = -(T)g_sum;
    }
}

// multilabel_margin_loss: with J the leading run of target[r] before the first -1 (duplicates
// counted each time, as torch) and I the classes not in J,
//     rowloss = sum_{j in J} sum_{i in I} max(0, 1 - x_j + x_i) / C,
// d/dx_i = #{j : 1 - x_j + x_i > 0} / C (i in I), d/dx_j = -#{i : 1 - x_j + x_i > 0} / C for each
// occurrence of j; the comparison is made in the input's precision (a NaN activates nothing).
// Every target entry, also after the first -1, must lie in [-1, C).
template <typename T, typename Team>
__device__ __forceinline__ void multilabel_margin(i64 rows, i64 C, const T* x, const i64* target, double* rowloss,
                                                  T* gx, const T* go, double g_scale, signed char* is_target,
                                                  i64* flag) {
    const i64 r = Team::row();
    if (r >= rows)
        return;
    const T* xr = x + r * C;
    const i64* yr = target + r * C;
    i64 first_neg = C, bad = 0x7FFFFFFFFFFFFFFFLL;
    for (i64 k = Team::rank(); k < C; k += Team::size()) {
        if (yr[k] < 0 && k < first_neg)
            first_neg = k;
        if (yr[k] < -1 || yr[k] >= C)
            bad = imin(bad, k);
    }
    const i64 n_targets = Team::min_i(first_neg);
    bad = Team::min_i(bad);
    if (bad != 0x7FFFFFFFFFFFFFFFLL) {
        if (Team::rank() == 0) {
            report_bad_index(flag, r * C + bad);
            rowloss[r] = nan_d();
        }
        if (gx != nullptr)
            for (i64 i = Team::rank(); i < C; i += Team::size())
                gx[r * C + i] = T(0);
        return;
    }
    // the row's target classes, marked in its scratch row (zeroed, then marked: benign races of
    // equal writes, ordered by the team's barriers)
    signed char* mark = is_target + r * C;
    for (i64 i = Team::rank(); i < C; i += Team::size())
        mark[i] = 0;
    Team::sync();
    for (i64 k = Team::rank(); k < n_targets; k += Team::size())
        mark[yr[k]] = 1;
    Team::sync();
    const T g = (T)(g_scale * (go != nullptr ? (double)go[r] : 1.0) / (double)C);
    double s = 0.0;
    for (i64 i = Team::rank(); i < C; i += Team::size()) {
        if (mark[i]) {
            // a target class: minus the count of active non-targets, once per occurrence
            if (gx != nullptr) {
                const T key = T(1) - xr[i];
                i64 active = 0;
                for (i64 c = 0; c < C; c++)
                    active += !mark[c] && key + xr[c] > 0;
                T v = T(0);
                for (i64 k = 0; k < n_targets; k++)
                    if (yr[k] == i)
                        v = v - (T)active * g;
                gx[r * C + i] = v;
            }
            continue;
        }
        const T xi = xr[i];
        i64 count = 0;
        for (i64 k = 0; k < n_targets; k++) {
            const T key = T(1) - xr[yr[k]];
            if (key + xi > 0) {
                count++;
                s += (double)key + (double)xi;
            }
        }
        if (gx != nullptr)
            gx[r * C + i] = (T)count * g;
    }
    s = Team::sum(s);
    if (Team::rank() == 0)
        rowloss[r] = s / (double)C;
}

}  // namespace fl

#define FL_MM_PARAMS(T)                                                                                    \
    i64 rows, i64 C, const T *x, const i64 *target, const T *weight, double margin, i64 p, double *rowloss, \
        T *gx, const T *go, double g_scale, i64 *flag
#define FL_MM_ARGS rows, C, x, target, weight, margin, p, rowloss, gx, go, g_scale, flag
#define FL_MLM_PARAMS(T)                                                                             \
    i64 rows, i64 C, const T *x, const i64 *target, double *rowloss, T *gx, const T *go, double g_scale, \
        signed char *is_target, i64 *flag
#define FL_MLM_ARGS rows, C, x, target, rowloss, gx, go, g_scale, is_target, flag

#define FL_MARGIN_ENTRIES(T, sfx)                                                                          \
    extern "C" __global__ void __launch_bounds__(256, 2) fl_multi_margin_warp_##sfx(FL_MM_PARAMS(T)) {         \
        fl::multi_margin<T, fl::WarpTeam>(FL_MM_ARGS);                                                     \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256, 2) fl_multi_margin_block_##sfx(FL_MM_PARAMS(T)) {        \
        fl::multi_margin<T, fl::BlockTeam>(FL_MM_ARGS);                                                    \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256, 2) fl_multilabel_margin_warp_##sfx(FL_MLM_PARAMS(T)) {   \
        fl::multilabel_margin<T, fl::WarpTeam>(FL_MLM_ARGS);                                               \
    }                                                                                                      \
    extern "C" __global__ void __launch_bounds__(256, 2) fl_multilabel_margin_block_##sfx(FL_MLM_PARAMS(T)) {  \
        fl::multilabel_margin<T, fl::BlockTeam>(FL_MLM_ARGS);                                              \
    }

FL_MARGIN_ENTRIES(float, f32)
FL_MARGIN_ENTRIES(double, f64)
