// The elementwise losses on the GPU: one templated grid-stride loop (``elementwise``) and one
// functor per loss holding its per-element formula, written as the CPU kernels' table
// (_cpu/elementwise.pyx.tp) writes it: same operations, same order, same literals in the compute
// type, so float32 stays float32 and the IEEE edge cases (NaN, inf, 0) come out the same.
//
// Data model (the CPU's): every operand is a 2-D strided view (rows, cols) of the broadcast shape,
// given as a pointer and two element strides (0 where broadcast); the 'none' output and the
// gradients are C-contiguous rows * cols arrays. Each block sums its threads' losses in double
// (block_sum) into part[blockIdx.x] and counts the elements failing the loss's check into
// bad[blockIdx.x]; fl_finish_sums adds the block values in index order: the total does not
// depend on timing. Gradients are d loss / d operand times g_scale (and times the per-element
// grad_output ``go`` when given), as the CPU writes them: (d * g_scale) * go in the compute type.
#include "common.cuh"

namespace fl {

// The generic loop: ``Op::n_ops`` operands a0..a3, up to three gradient outputs g0..g2 (the
// first n_grads of them are written), parameters p0, p1.
#define FL_EW_PARAMS(T)                                                                                  \
    i64 rows, i64 cols, const T *a0, i64 a0s0, i64 a0s1, const T *a1, i64 a1s0, i64 a1s1, const T *a2,   \
        i64 a2s0, i64 a2s1, const T *a3, i64 a3s0, i64 a3s1, T *out, T *g0, T *g1, T *g2, i64 n_grads, \
        const T *go, i64 gos0, i64 gos1, double g_scale, double p0, double p1, double *part, double *bad
#define FL_EW_ARGS                                                                                    \
    rows, cols, a0, a0s0, a0s1, a1, a1s0, a1s1, a2, a2s0, a2s1, a3, a3s0, a3s1, out, g0, g1, g2, n_grads, \
        go, gos0, gos1, g_scale, p0, p1, part, bad

// Each pass of the loop takes a batch of elements per thread (16 bytes of each operand: 4 float,
// 2 double, load_batch), their loads all issued before any is used or stored: one load in flight
// per thread leaves the device memory's latency uncovered. Each thread still takes elements i,
// i + stride, ... in order: the same sums as one element per pass.

template <typename T, typename Op>
__device__ __forceinline__ void elementwise(FL_EW_PARAMS(T)) {
    const i64 n = rows * cols;
    const T gs = (T)g_scale;
    const T* base[4] = {a0, a1, a2, a3};
    const i64 s0[4] = {a0s0, a1s0, a2s0, a3s0};
    const i64 s1[4] = {a0s1, a1s1, a2s1, a3s1};
    double acc = 0.0, n_bad = 0.0;
    // (r, c) of element i, stepped along with i: divisions only before the loop
    const i64 stride = (i64)gridDim.x * blockDim.x;
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    i64 r, c, dr, dc;
    divmod(i, cols, r, c);
    divmod(stride, cols, dr, dc);
    constexpr int EW_BATCH = load_batch<T>();
    while (i < n) {
        T v[EW_BATCH][Op::n_ops];
        i64 ii[EW_BATCH], rr[EW_BATCH], cc[EW_BATCH];
#pragma unroll
        for (int u = 0; u < EW_BATCH; u++) {
            ii[u] = i;
            rr[u] = r;
            cc[u] = c;
            if (i < n) {
#pragma unroll
                for (int k = 0; k < Op::n_ops; k++)
                    v[u][k] = base[k][r * s0[k] + c * s1[k]];
            }
            i += stride;
            r += dr;
            c += dc;
            if (c >= cols) {
                c -= cols;
                r += 1;
            }
        }
#pragma unroll
        for (int u = 0; u < EW_BATCH; u++) {
            if (ii[u] >= n)
                break;
            // p0, p1 as given (double): a loss's eval takes them in the compute type or, where its
            // formula needs them so, in double
            T l, d[3];
            Op::eval(v[u], p0, p1, l, d);
            if (out != nullptr)
                out[ii[u]] = l;
            else
                acc += (double)l;
            if (Op::has_check && !Op::ok(v[u]))
                n_bad += 1.0;
            if (n_grads > 0) {
                T* g[3] = {g0, g1, g2};
                const bool scaled = go != nullptr;
                const T gm = scaled ? go[rr[u] * gos0 + cc[u] * gos1] : T(1);
#pragma unroll
                for (int k = 0; k < Op::n_grads; k++)
                    if (k < n_grads)
                        g[k][ii[u]] = scaled ? (d[k] * gs) * gm : d[k] * gs;
            }
        }
    }
    acc = block_sum(acc);
    if (Op::has_check)
        n_bad = block_sum(n_bad);
    if (threadIdx.x == 0) {
        part[blockIdx.x] = acc;
        if (bad != nullptr)
            bad[blockIdx.x] = n_bad;
    }
}

// sign(d) as the CPU's SIGN: 0 at 0, NaN for NaN (and, as there, NaN at +-inf: d - d)
template <typename T>
__device__ __forceinline__ T sign_nan(T d) {
    return (T)((d > 0) - (d < 0)) + (d - d);
}

// sign(d) as the CPU's ABS_SIGN: 0 at 0 and at NaN (torch's abs() backward)
template <typename T>
__device__ __forceinline__ T sign_abs(T d) {
    return (T)((d > 0) - (d < 0));
}

// --- the per-element formulas ------------------------------------------------------------------
// eval(v, p0, p1, l, d): v holds the operands present, in the kernel's order; l the loss, d the
// gradients in the kernel's order. A constant (1) stands for an absent optional operand.

template <typename T, bool W>
struct Mse {
    static constexpr int n_ops = 2 + W, n_grads = 2 + W;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T, T, T& l, T* dd) {
        const T x = v[0], y = v[1], w = W ? v[2 % n_ops] : T(1);
        const T d = x - y;
        l = (d * d) * w;
        dd[0] = (d + d) * w;
        dd[1] = -dd[0];
        dd[2] = d * d;
    }
};

template <typename T, bool W>
struct L1 {
    static constexpr int n_ops = 2 + W, n_grads = 2 + W;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T, T, T& l, T* dd) {
        const T x = v[0], y = v[1], w = W ? v[2 % n_ops] : T(1);
        const T d = x - y;
        l = f_abs(d) * w;
        dd[0] = sign_abs(d) * w;
        dd[1] = -dd[0];
        dd[2] = f_abs(d);
    }
};

template <typename T>
struct SmoothL1 {  // p0 = beta > 0
    static constexpr int n_ops = 2, n_grads = 2;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T beta, T, T& l, T* dd) {
        const T d = v[0] - v[1];
        const T a = f_abs(d);
        l = a < beta ? (T(0.5) * d * d / beta) : (a - T(0.5) * beta);
        dd[0] = a < beta ? (d / beta) : sign_nan(d);
        dd[1] = -dd[0];
        dd[2] = T(0);
    }
};

template <typename T, bool W>
struct Huber {  // p0 = delta
    static constexpr int n_ops = 2 + W, n_grads = 2 + W;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T delta, T, T& l, T* dd) {
        const T x = v[0], y = v[1], w = W ? v[2 % n_ops] : T(1);
        const T d = x - y;
        const T a = f_abs(d);
        const T u = a < delta ? (T(0.5) * d * d) : (delta * (a - T(0.5) * delta));
        l = u * w;
        dd[0] = (a < delta ? d : delta * sign_nan(d)) * w;
        dd[1] = -dd[0];
        dd[2] = u;
    }
};

template <typename T>
struct SoftMargin {
    static constexpr int n_ops = 2, n_grads = 1;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T, T, T& l, T* dd) {
        const T x = v[0], y = v[1];
        // log(1 + exp(-x y)) as softplus(z) = max(z, 0) + log1p(exp(-|z|))
        const T z = -(x * y);
        const T e = f_exp(-f_abs(z));
        l = (z > 0 ? z : T(0)) + f_log1p(e);
        dd[0] = -y * ((z >= 0 ? T(1) : e) / (T(1) + e));
        dd[1] = dd[2] = T(0);
    }
};

template <typename T>
struct HingeEmbedding {  // p0 = margin
    static constexpr int n_ops = 2, n_grads = 1;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T margin, T, T& l, T* dd) {
        const T x = v[0], y = v[1];
        // torch: where(y != 1, clamp_min(margin - x, 0), 0) + where(y != -1, x, 0)
        const T hm = margin - x;
        l = (y != 1 ? (hm < 0 ? T(0) : hm) : T(0)) + (y != -1 ? x : T(0));
        dd[0] = (y != 1 ? (hm >= 0 ? T(-1) : T(0)) : T(0)) + (y != -1 ? T(1) : T(0));
        dd[1] = dd[2] = T(0);
    }
};

template <typename T>
struct MarginRanking {  // operands x1, x2, y; p0 = margin
    static constexpr int n_ops = 3, n_grads = 3;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T margin, T, T& l, T* dd) {
        const T x1 = v[0], x2 = v[1], y = v[2];
        const T d = x1 - x2;
        const T u = -y * d + margin;
        l = u < 0 ? T(0) : u;
        const T mask = u >= 0 ? T(1) : T(0);
        dd[0] = -y * mask;
        dd[1] = y * mask;
        dd[2] = -d * mask;
    }
};

template <typename T, bool W>
struct Bce {  // check: 0 <= x <= 1 and 0 <= y <= 1 (NaN fails), as torch
    static constexpr int n_ops = 2 + W, n_grads = 2;
    static constexpr bool has_check = true;
    __device__ static bool ok(const T* v) { return (v[0] >= 0) & (v[0] <= 1) & (v[1] >= 0) & (v[1] <= 1); }
    __device__ static void eval(const T* v, T, T, T& l, T* dd) {
        const T x = v[0], y = v[1], w = W ? v[2 % n_ops] : T(1);
        const T eps = (T)1e-12f;  // torch's BCE EPSILON is a float constant, also in double
        const T lx = f_log(x);
        const T l1x = f_log1p(-x);
        l = ((y - 1) * (l1x < -100 ? T(-100) : l1x) - y * (lx < -100 ? T(-100) : lx)) * w;
        const T q = (T(1) - x) * x;
        dd[0] = w * (x - y) / (q > eps ? q : eps);
        dd[1] = w * (l1x - lx);
        dd[2] = T(0);
    }
};

template <typename T, bool W, bool PW>
struct BceLogits {  // operands x, y[, w][, pw]
    static constexpr int n_ops = 2 + W + PW, n_grads = 2;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T, T, T& l, T* dd) {
        const T x = v[0], y = v[1];
        const T w = W ? v[2 % n_ops] : T(1);
        const T pw = PW ? v[(2 + W) % n_ops] : T(1);
        // l = [(1 - y) x if x >= 0 else -pw y x] + lw log1p(exp(-|x|)), lw = (pw - 1) y + 1
        const T e = f_exp(-f_abs(x));
        const T lw = (pw - 1) * y + 1;
        l = ((x >= 0 ? (T(1) - y) * x : -(pw * y) * x) + lw * f_log1p(e)) * w;
        dd[0] = (((T(1) - y) * (x >= 0 ? T(1) : e) - (pw * y) * (x >= 0 ? e : T(1))) / (T(1) + e)) * w;
        if (PW) {
            const T ls = f_log1p(e);
            dd[1] = (((x <= 0 ? T(0) : -x) - ls) - pw * ((x >= 0 ? T(0) : x) - ls)) * w;
        } else {
            dd[1] = -x * w;
        }
        dd[2] = T(0);
    }
};

template <typename T>
struct KlDiv {
    static constexpr int n_ops = 2, n_grads = 2;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T, T, T& l, T* dd) {
        const T x = v[0], y = v[1];
        // xlogy(y, y) - y x; the target gradient through xlogy's autograd is NaN at y = 0 (torch)
        const T ly = f_log(y);
        l = (y == 0 ? T(0) : y * ly) - y * x;
        dd[0] = -y;
        dd[1] = (y == 0 ? T(0) : ly) + y / y - x;
        dd[2] = T(0);
    }
};

template <typename T>
struct KlDivLog {
    static constexpr int n_ops = 2, n_grads = 2;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, T, T, T& l, T* dd) {
        const T x = v[0], y = v[1];
        const T e = f_exp(y);
        l = e * (y - x);
        dd[0] = -e;
        dd[1] = e * (y - x + 1);
        dd[2] = T(0);
    }
};

template <typename T, bool LogInput, bool Full>
struct Poisson {  // p0 = eps (taken in double: the full variant's double terms use it as given)
    static constexpr int n_ops = 2, n_grads = 2;
    static constexpr bool has_check = false;
    __device__ static bool ok(const T*) { return true; }
    __device__ static void eval(const T* v, double eps_arg, double, T& l, T* dd) {
        const T x = v[0], y = v[1], eps = (T)eps_arg;
        if (LogInput) {
            const T e = f_exp(x);
            l = e - y * x;
            dd[0] = e - y;
            dd[1] = -x;
        } else {
            const T lx = f_log(x + eps);
            l = x - y * lx;
            dd[0] = T(1) - y / (x + eps);
            dd[1] = -lx;
        }
        if (Full) {
            // Stirling term y log y - y + log(2 pi y) / 2, masked to 0 where y <= 1. It cancels
            // against the rest (terms several times the result), so, as on the CPU, the loss and
            // d/dy are computed in double and rounded once
            const double yd = (double)y, xd = (double)x;
            const double st = yd * log(yd) - yd + 0.5 * log(6.283185307179586 * yd);
            const double lxd = LogInput ? xd : log(xd + eps_arg);  // the log-rate: d/dy of the rest is -lxd
            const double ld = (LogInput ? exp(xd) : xd) - yd * lxd;
            l = (T)(ld + (y <= 1 ? 0.0 : st));
            // torch's autograd through the masked term: NaN for y <= 0
            dd[1] = (y <= 1) ? dd[1] + (y > 0 ? T(0) : (T)nan_d()) : (T)(-lxd + (log(yd) + 0.5 / yd));
        }
        dd[2] = T(0);
    }
};

template <typename T>
struct GaussianNll {  // operands x, y, var; p0 = eps, p1 = const; check: var >= 0 (or NaN)
    static constexpr int n_ops = 3, n_grads = 3;
    static constexpr bool has_check = true;
    __device__ static bool ok(const T* v) { return !(v[2] < 0); }
    __device__ static void eval(const T* v, T eps, T konst, T& l, T* dd) {
        const T x = v[0], y = v[1], var = v[2];
        const T vc = var < eps ? eps : var;
        const T d = x - y;
        const T dv = d / vc;
        l = T(0.5) * (f_log(vc) + d * d / vc) + konst;
        dd[0] = dv;
        dd[1] = -dv;
        dd[2] = T(0.5) / vc - T(0.5) * (((d * d) / vc) / vc);
    }
};

// the variants as one-parameter templates, for the entry macro
template <typename T> using MseN = Mse<T, false>;
template <typename T> using MseW = Mse<T, true>;
template <typename T> using L1N = L1<T, false>;
template <typename T> using L1W = L1<T, true>;
template <typename T> using HuberN = Huber<T, false>;
template <typename T> using HuberW = Huber<T, true>;
template <typename T> using BceN = Bce<T, false>;
template <typename T> using BceW = Bce<T, true>;
template <typename T> using BceLogitsN = BceLogits<T, false, false>;
template <typename T> using BceLogitsW = BceLogits<T, true, false>;
template <typename T> using BceLogitsPW = BceLogits<T, false, true>;
template <typename T> using BceLogitsWPW = BceLogits<T, true, true>;
template <typename T> using PoissonLog = Poisson<T, true, false>;
template <typename T> using PoissonLogFull = Poisson<T, true, true>;
template <typename T> using PoissonLin = Poisson<T, false, false>;
template <typename T> using PoissonLinFull = Poisson<T, false, true>;

}  // namespace fl

// Entry points: fl_ew_<variant>_f32 / _f64, 256 threads per block. The launch bounds' minimum of
// one block per multiprocessor leaves ptxas free to keep a batch in registers: with a plain
// bound it aims at fewer registers and spills some of them.
#define FL_EW_ENTRY(name, Op)                                                                         \
    extern "C" __global__ void __launch_bounds__(256, 1) fl_ew_##name##_f32(FL_EW_PARAMS(float)) {    \
        fl::elementwise<float, fl::Op<float>>(FL_EW_ARGS);                                             \
    }                                                                                                 \
    extern "C" __global__ void __launch_bounds__(256, 1) fl_ew_##name##_f64(FL_EW_PARAMS(double)) {   \
        fl::elementwise<double, fl::Op<double>>(FL_EW_ARGS);                                           \
    }

FL_EW_ENTRY(mse, MseN)
FL_EW_ENTRY(mse_w, MseW)
FL_EW_ENTRY(l1, L1N)
FL_EW_ENTRY(l1_w, L1W)
FL_EW_ENTRY(smooth_l1, SmoothL1)
FL_EW_ENTRY(huber, HuberN)
FL_EW_ENTRY(huber_w, HuberW)
FL_EW_ENTRY(soft_margin, SoftMargin)
FL_EW_ENTRY(hinge_embedding, HingeEmbedding)
FL_EW_ENTRY(margin_ranking, MarginRanking)
FL_EW_ENTRY(bce, BceN)
FL_EW_ENTRY(bce_w, BceW)
FL_EW_ENTRY(bce_logits, BceLogitsN)
FL_EW_ENTRY(bce_logits_w, BceLogitsW)
FL_EW_ENTRY(bce_logits_pw, BceLogitsPW)
FL_EW_ENTRY(bce_logits_w_pw, BceLogitsWPW)
FL_EW_ENTRY(kl_div, KlDiv)
FL_EW_ENTRY(kl_div_log, KlDivLog)
FL_EW_ENTRY(poisson_log, PoissonLog)
FL_EW_ENTRY(poisson_log_full, PoissonLogFull)
FL_EW_ENTRY(poisson, PoissonLin)
FL_EW_ENTRY(poisson_full, PoissonLinFull)
FL_EW_ENTRY(gaussian_nll, GaussianNll)
