// The embedding losses on the GPU: cosine_embedding_loss, triplet_margin_loss and the pairwise
// p-norm distance they are built on. Operands are 2-D strided views (rows, D) of the broadcast
// shape (stride 0 where broadcast); gradients are C-contiguous (rows, D). A team (a warp, or a
// block for long rows) per row: its reductions in double, then its gradient row. Row losses go to
// rowloss (double) for the caller to reduce. The formulas, torch's norm_backward cases and the
// precision of each step are the CPU kernels' (_cpu/embedding.pyx).
#include "common.cuh"

namespace fl {

// Norm kinds, chosen in Python from p (must match _losses/distances.py and _cpu/embedding.pyx)
enum NormKind : long long {
    NORM_ZERO = 0,        // p == 0: number of non-zeros, no gradient
    NORM_ONE = 1,
    NORM_TWO = 2,
    NORM_INF = 3,
    NORM_NEG_INF = 4,
    NORM_BELOW_ONE = 5,   // p < 1 (not 0): sgn(d)|d|^(p-1) * D^(1-p), 0 where d == 0
    NORM_GENERAL = 6      // p > 1: sgn(d)|d|^(p-1) / D^(p-1), 0 where D == 0
};

// || u - v + eps ||_p over the team's row, the difference formed in the input's precision
template <typename T, typename Team>
__device__ __forceinline__ double norm_of_diff(const T* u, i64 us, const T* v, i64 vs, i64 D, T eps, i64 kind,
                                               double p) {
    if (kind == NORM_INF || kind == NORM_NEG_INF) {
        // the largest (smallest) |d|; a NaN anywhere makes the norm NaN
        double m = kind == NORM_INF ? -inf_d() : inf_d();
        for (i64 k = Team::rank(); k < D; k += Team::size()) {
            const T d = u[k * us] - v[k * vs] + eps;
            const double a = fabs((double)d);
            m = kind == NORM_INF ? max_nan(m, a) : min_nan(m, a);
        }
        m = kind == NORM_INF ? Team::max(m) : Team::min(m);
        return D > 0 ? m : 0.0;
    }
    double s = 0.0;
    for (i64 k = Team::rank(); k < D; k += Team::size()) {
        const T d = u[k * us] - v[k * vs] + eps;
        if (kind == NORM_TWO) {
            s += (double)d * d;
        } else {
            const double a = fabs((double)d);
            if (kind == NORM_ONE)
                s += a;
            else if (kind == NORM_ZERO)
                s += (a != 0);
            else
                s += pow(a, p);
        }
    }
    s = Team::sum(s);
    if (kind == NORM_TWO)
        return sqrt(s);
    if (kind == NORM_ONE || kind == NORM_ZERO)
        return s;
    return pow(s, 1.0 / p);
}

// Add c * d dist / d u to gu and c * d dist / d v (its negative) to gv (contiguous rows, either may
// be NULL); ``accumulate`` false overwrites them. torch's norm_backward, case by case.
template <typename T, typename Team>
__device__ __forceinline__ void norm_grad(const T* u, i64 us, const T* v, i64 vs, i64 D, T eps, i64 kind, double p,
                                          double dist, double c, T* gu, T* gv, bool accumulate) {
    double scale = 0.0;
    if (kind == NORM_TWO) {
        scale = dist != 0 ? c / dist : 0.0;
    } else if (kind == NORM_INF || kind == NORM_NEG_INF) {
        i64 ties = 0;
        for (i64 k = Team::rank(); k < D; k += Team::size()) {
            const double a = fabs((double)(u[k * us] - v[k * vs] + eps));
            ties += (a == dist || a != a);
        }
        ties = Team::sum_i(ties);
        scale = ties ? c / (double)ties : 0.0;
    } else if (kind == NORM_BELOW_ONE) {
        scale = c * pow(dist, 1.0 - p);
    } else if (kind == NORM_GENERAL) {
        scale = dist != 0 ? c / pow(dist, p - 1.0) : 0.0;
    } else if (kind == NORM_ONE) {
        scale = c;
    }
    for (i64 k = Team::rank(); k < D; k += Team::size()) {
        double gk;
        if (kind == NORM_TWO) {
            const T d = u[k * us] - v[k * vs] + eps;
            gk = scale * d;
        } else if (kind == NORM_ZERO) {
            gk = 0.0;
        } else {
            const T d = u[k * us] - v[k * vs] + eps;
            const double a = fabs((double)d);
            const double f = (double)((d > 0) - (d < 0));
            if (kind == NORM_ONE)
                gk = scale * f;
            else if (kind == NORM_INF || kind == NORM_NEG_INF)
                gk = (a == dist || a != a) ? scale * f : 0.0;
            else if (a == 0)
                gk = 0.0;
            else
                gk = scale * f * pow(a, p - 1.0);
        }
        if (accumulate) {
            if (gu != nullptr)
                gu[k] = gu[k] + (T)gk;
            if (gv != nullptr)
                gv[k] = gv[k] - (T)gk;
        } else {
            if (gu != nullptr)
                gu[k] = (T)gk;
            if (gv != nullptr)
                gv[k] = (T)(-gk);
        }
    }
}

// Row distances dist[r] = ||x1[r] - x2[r] + eps||_p (gdist NULL), or, given the distances and their
// output gradient gdist, the gradients g1 / g2 (either may be NULL).
template <typename T, typename Team>
__device__ __forceinline__ void pairwise_distance(i64 rows, i64 D, const T* x1, i64 s10, i64 s11, const T* x2,
                                                  i64 s20, i64 s21, double p, i64 kind, double eps, double* dist,
                                                  T* g1, T* g2, const double* gdist) {
    const i64 r = Team::row();
    if (r >= rows)
        return;
    const T feps = (T)eps;
    if (gdist == nullptr) {
        const double d = norm_of_diff<T, Team>(x1 + r * s10, s11, x2 + r * s20, s21, D, feps, kind, p);
        if (Team::rank() == 0)
            dist[r] = d;
    } else {
        norm_grad<T, Team>(x1 + r * s10, s11, x2 + r * s20, s21, D, feps, kind, p, dist[r], gdist[r],
                           g1 != nullptr ? g1 + r * D : nullptr, g2 != nullptr ? g2 + r * D : nullptr, false);
    }
}

// triplet_margin rows: max(0, margin + d(a, p) - d_neg), d(u, v) = ||u - v + eps||_p, d_neg = d(a, n)
// or, with swap, min(d(a, n), d(p, n)) (a tie splits the gradient evenly, as torch's minimum).
// Gradients (all three or none) where margin + d(a, p) - d_neg >= 0 (torch's clamp_min).
template <typename T, typename Team>
__device__ __forceinline__ void triplet_margin(i64 rows, i64 D, const T* a, i64 sa0, i64 sa1, const T* pos,
                                               i64 sp0, i64 sp1, const T* neg, i64 sn0, i64 sn1, double margin,
                                               double p, i64 kind, double eps, i64 swap, double* rowloss, T* ga,
                                               T* gp, T* gn, const T* go, double g_scale) {
    const i64 r = Team::row();
    if (r >= rows)
        return;
    const T feps = (T)eps;
    const T* ar = a + r * sa0;
    const T* pr = pos + r * sp0;
    const T* nr = neg + r * sn0;
    const double d_ap = norm_of_diff<T, Team>(ar, sa1, pr, sp1, D, feps, kind, p);
    const double d_an = norm_of_diff<T, Team>(ar, sa1, nr, sn1, D, feps, kind, p);
    double d_neg = d_an, w_an = 1.0, w_pn = 0.0, d_pn = 0.0;
    if (swap) {
        d_pn = norm_of_diff<T, Team>(pr, sp1, nr, sn1, D, feps, kind, p);
        if (d_pn < d_an) {
            d_neg = d_pn;
            w_an = 0.0;
            w_pn = 1.0;
        } else if (d_pn == d_an) {
            w_an = w_pn = 0.5;
        }
    }
    const double v = margin + d_ap - d_neg;
    if (Team::rank() == 0)
        rowloss[r] = (v > 0 || v != v) ? v : 0.0;
    if (ga == nullptr)
        return;
    const double g = v >= 0 ? (go != nullptr ? (double)go[r] : 1.0) * g_scale : 0.0;
    T* gar = ga + r * D;
    T* gpr = gp + r * D;
    T* gnr = gn + r * D;
    if (kind == NORM_TWO) {
        // d/du ||u - v + eps|| = (u - v + eps) / ||.||: the three rows in one pass, combined in double
        const double c_ap = d_ap != 0 ? g / d_ap : 0.0;
        const double c_an = d_an != 0 ? g * w_an / d_an : 0.0;
        const double c_pn = d_pn != 0 ? g * w_pn / d_pn : 0.0;
        for (i64 k = Team::rank(); k < D; k += Team::size()) {
            const T ak = ar[k * sa1], pk = pr[k * sp1], nk = nr[k * sn1];
            const T da = ak - pk + feps, dn = ak - nk + feps, dq = pk - nk + feps;
            gar[k] = (T)(c_ap * da - c_an * dn);
            gpr[k] = (T)(-c_ap * da - c_pn * dq);
            gnr[k] = (T)(c_an * dn + c_pn * dq);
        }
        return;
    }
    // every thread writes and later updates only its own entries k (the same partition in each call)
    norm_grad<T, Team>(ar, sa1, pr, sp1, D, feps, kind, p, d_ap, g, gar, gpr, false);
    for (i64 k = Team::rank(); k < D; k += Team::size())
        gnr[k] = T(0);
    if (w_an != 0)
        norm_grad<T, Team>(ar, sa1, nr, sn1, D, feps, kind, p, d_an, -g * w_an, gar, gnr, true);
    if (w_pn != 0)
        norm_grad<T, Team>(pr, sp1, nr, sn1, D, feps, kind, p, d_pn, -g * w_pn, gpr, gnr, true);
}

// cosine_embedding rows. sign[r]: 1 where target == 1, -1 where target == -1, 0 otherwise.
// cos = <x1, x2> / sqrt((|x1|^2 + eps)(|x2|^2 + eps)), eps = float32(1e-12) (torch's EPSILON); loss
// 1 - cos (sign 1), max(0, cos - margin) (sign -1), 0 otherwise; d cos / d x1 = x2 / denom - cos x1 /
// m1 (m1 = |x1|^2 + eps), symmetrically for x2, in double (nearly parallel vectors cancel).
template <typename T, typename Team>
__device__ __forceinline__ void cosine_embedding(i64 rows, i64 D, const T* x1, i64 s10, i64 s11, const T* x2,
                                                 i64 s20, i64 s21, const signed char* sign, double margin,
                                                 double* rowloss, T* g1, T* g2, const T* go, double g_scale) {
    const i64 r = Team::row();
    if (r >= rows)
        return;
    const T* u = x1 + r * s10;
    const T* v = x2 + r * s20;
    double dot = 0.0, m1 = 0.0, m2 = 0.0;
    for (i64 k = Team::rank(); k < D; k += Team::size()) {
        const T uk = u[k * s11], vk = v[k * s21];
        dot += (double)uk * vk;
        m1 += (double)uk * uk;
        m2 += (double)vk * vk;
    }
    dot = Team::sum(dot);
    m1 = Team::sum(m1);
    m2 = Team::sum(m2);
    const double cosine_eps = (double)1e-12f;
    m1 += cosine_eps;
    m2 += cosine_eps;
    const double denom = sqrt(m1 * m2);
    const double cosv = dot / denom;
    double l = 0.0, dl = 0.0;
    if (sign[r] == 1) {
        l = 1.0 - cosv;
        dl = -1.0;
    } else if (sign[r] == -1) {
        l = cosv - margin;
        if (l >= 0)
            dl = 1.0;
        else if (l == l)
            l = 0.0;
    }
    if (Team::rank() == 0)
        rowloss[r] = l;
    if (g1 == nullptr && g2 == nullptr)
        return;
    dl = dl * (go != nullptr ? (double)go[r] : 1.0) * g_scale;
    const double fa = dl / denom, fb1 = dl * cosv / m1, fb2 = dl * cosv / m2;
    for (i64 k = Team::rank(); k < D; k += Team::size()) {
        const T uk = u[k * s11], vk = v[k * s21];
        if (g1 != nullptr)
            g1[r * D + k] = (T)(fa * vk - fb1 * uk);
        if (g2 != nullptr)
            g2[r * D + k] = (T)(fa * uk - fb2 * vk);
    }
}

}  // namespace fl

#define FL_PD_PARAMS(T)                                                                                       \
    i64 rows, i64 D, const T *x1, i64 s10, i64 s11, const T *x2, i64 s20, i64 s21, double p, i64 kind, double eps, \
        double *dist, T *g1, T *g2, const double *gdist
#define FL_PD_ARGS rows, D, x1, s10, s11, x2, s20, s21, p, kind, eps, dist, g1, g2, gdist
#define FL_TM_PARAMS(T)                                                                                      \
    i64 rows, i64 D, const T *a, i64 sa0, i64 sa1, const T *pos, i64 sp0, i64 sp1, const T *neg, i64 sn0,     \
        i64 sn1, double margin, double p, i64 kind, double eps, i64 swap, double *rowloss, T *ga, T *gp, T *gn, \
        const T *go, double g_scale
#define FL_TM_ARGS \
    rows, D, a, sa0, sa1, pos, sp0, sp1, neg, sn0, sn1, margin, p, kind, eps, swap, rowloss, ga, gp, gn, go, g_scale
#define FL_CE_PARAMS(T)                                                                                     \
    i64 rows, i64 D, const T *x1, i64 s10, i64 s11, const T *x2, i64 s20, i64 s21, const signed char *sign, \
        double margin, double *rowloss, T *g1, T *g2, const T *go, double g_scale
#define FL_CE_ARGS rows, D, x1, s10, s11, x2, s20, s21, sign, margin, rowloss, g1, g2, go, g_scale

#define FL_EMBEDDING_TEAM_ENTRIES(T, sfx, team, Team)                                                          \
    extern "C" __global__ void __launch_bounds__(256, 2) fl_pairwise_distance_##team##_##sfx(FL_PD_PARAMS(T)) { \
        fl::pairwise_distance<T, fl::Team>(FL_PD_ARGS);                                                        \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(256, 2) fl_triplet_margin_##team##_##sfx(FL_TM_PARAMS(T)) {    \
        fl::triplet_margin<T, fl::Team>(FL_TM_ARGS);                                                           \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(256, 2) fl_cosine_embedding_##team##_##sfx(FL_CE_PARAMS(T)) {  \
        fl::cosine_embedding<T, fl::Team>(FL_CE_ARGS);                                                         \
    }

FL_EMBEDDING_TEAM_ENTRIES(float, f32, warp, WarpTeam)
FL_EMBEDDING_TEAM_ENTRIES(float, f32, block, BlockTeam)
FL_EMBEDDING_TEAM_ENTRIES(double, f64, warp, WarpTeam)
FL_EMBEDDING_TEAM_ENTRIES(double, f64, block, BlockTeam)
