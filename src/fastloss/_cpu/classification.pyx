# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fused forward + gradient kernels of the classification losses (nll_loss, cross_entropy,
multilabel_soft_margin_loss).

Data model: a class-dimension input is a 3-D strided view ``(N, C, S)`` (S: the product of the
K extra dims; 1 for ``(N, C)``). The Python layer guarantees one of two layouts:

* row layout (``S == 1``, class stride 1): one row of C contiguous logits per sample; the row
  kernels loop over classes, the prange goes over rows;
* spatial layout (``S > 1``, spatial stride 1): the ``(N, C, H, W)`` image layout; the spatial
  kernels take blocks of SBLOCK positions of one sample and loop classes outside, positions
  inside, so every inner loop is contiguous and no transposed copy is ever made.

Index targets are an ``(N, S)`` C-contiguous int64 array, already range-checked (every entry is
``ignore_index`` or in ``[0, C)``). ``weight`` is always a length-C array (ones when absent), so
no kernel branches on it. Gradients are C-contiguous ``(N, C, S)``. Reduced losses are summed
per row/block into ``partial`` (double) and combined by the caller in a fixed order, so the
result does not depend on the thread count. Mean scales (``g_scale``) are precomputed by the
caller, so the gradient is written once, while the row is still in cache.

cross_entropy with class indices, smoothing eps, per-class weight w, W = sum(w), target t:
    loss = (1 - eps) w_t (lse - x_t) + eps / C * sum_c w_c (lse - x_c)
    dloss/dx_j = (1 - eps) w_t (p_j - [j == t]) + eps / C (W p_j - w_j)
with p = softmax(x); lse and every sum are taken relative to the row maximum (no overflow, and no
cancellation of large logits). With probability targets y' = (1 - eps) y + eps / C:
    loss = sum_c w_c y'_c (lse - x_c),   dloss/dx_j = (sum_c w_c y'_c) p_j - w_j y'_j,
    dloss/dy_j = (1 - eps) w_j (lse - x_j).
"""
from cython.parallel cimport prange, parallel
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from libc.stdint cimport int64_t
import numpy as np
cimport numpy as cnp

from .kernel_utils cimport (floating, f_log, FlGuard, fl_guard_init, fl_guard_alloc,
                            fl_guard_tick, fl_poll_mask, guard_raise)
from .common_case cimport SMALL_SUM, plain_array, partials_sum, scalar_result, team_size

cnp.import_array()

cdef enum:
    SBLOCK = 256
    NLL_SAMPLE_WORK = 16   # _losses.classification.NLL_SAMPLE_WORK: an nll forward's work per sample
    NLL_CHUNK = 65536      # nll's (N, C) forward: samples between interrupt polls, at most


cdef extern from *:
    """
    #include <stddef.h>
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    #include "vecmath.h"
    /* The inner loops of the softmax kernels, in C: with the selects written on the bits and the
     * sums in their own loops, GCC vectorises them without -ffast-math. Like the other kernel
     * modules, this one is also built for AVX2+FMA and AVX-512 (setup.py) and the widest the CPU
     * runs is loaded: the exps there use fused multiply-adds (vecmath.h's FL_VM_FMA for float64;
     * fastloss_expf_nonpos_fma below for the float32 softmax). */
    #if defined(__GNUC__) || defined(__clang__)
    #define FASTLOSS_INLINE static inline __attribute__((always_inline))
    #else
    #define FASTLOSS_INLINE static inline
    #endif

    FASTLOSS_INLINE uint32_t fastloss_f2u(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
    FASTLOSS_INLINE float fastloss_u2f(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }

    /* exp(x) in float for x <= 0 (the shifted logits x - max of a softmax), or NaN.
     * Straight-line code that vectorises even without -ffast-math: the one select takes x or a
     * value made from its bits (with a constant arm GCC folds that path apart and the branch
     * stays), the rest is integer operations on the bits, and no float<->int conversion is
     * needed. Cody-Waite reduction x = k ln2 + r (ln2 split in two; k rounded with the
     * 1.5 * 2^23 trick, which also leaves k in the low mantissa bits), Cephes' degree-6 expf
     * polynomial, 2^k built in the exponent field. Error < 0.99 ulp on [-87.3, 0] (every float
     * checked against double exp). Below, the scale 2^k is normal down to k = -126 and 0 from
     * k = -127 (x < -87.68; -inf is clamped to -104 first, where the reduction still holds): a
     * result that would be subnormal there is 0. NaN flows through. Not for x > 0. */
    FASTLOSS_INLINE float fastloss_expf_nonpos(float x)
    {
        uint32_t u = fastloss_f2u(x);
        float ax = fastloss_u2f(u & 0x7FFFFFFFu);
        float xc = ax > 104.0f ? fastloss_u2f((u & 0x80000000u) | 0x42D00000u) : x;  /* |x| > 104: -+104 */
        float kr = xc * 1.44269504088896341f + 12582912.0f;
        float k = kr - 12582912.0f;
        float r = xc - k * 0.693359375f;
        r = r - k * -2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * (r * r) + r + 1.0f;
        int32_t e = (int32_t)fastloss_f2u(kr) - (0x4B400000 - 127);  /* k + 127: kr's bits are 0x4B400000 + k */
        e = e > 0 ? e : 0;
        return p * fastloss_u2f((uint32_t)e << 23);
    }

    /* The float32 softmax exp with fused multiply-adds, in the module's FMA builds (AVX2+FMA,
     * AVX-512): the exp is most of a float32 cross entropy's work, and FMA makes it about 1.4x
     * cheaper. Same reduction and scaling as fastloss_expf_nonpos; ln2 split for FMA (r = x - k ln2
     * rounds once per step) and the polynomial by Horner's rule down to 1 + r (1 + r + r^2/2 + ...,
     * one rounding per step): <= 0.89 ulp on [-87.3, 0] (every float checked against double exp),
     * where the version without FMA gives <= 0.98. The two FMA builds compute the same bits, lane
     * by lane; the baseline build runs fastloss_expf_nonpos, whose results can differ in the last bit. */
    #if defined(__FMA__)
    FASTLOSS_INLINE float fastloss_expf_nonpos_fma(float x)
    {
        uint32_t u = fastloss_f2u(x);
        float ax = fastloss_u2f(u & 0x7FFFFFFFu);
        float xc = ax > 104.0f ? fastloss_u2f((u & 0x80000000u) | 0x42D00000u) : x;  /* |x| > 104: -+104 */
        float kr = __builtin_fmaf(xc, 1.44269504088896341f, 12582912.0f);
        float k = kr - 12582912.0f;
        float r = __builtin_fmaf(k, -0x1.62e43p-1f, xc);   /* ln2 = 0x1.62e43p-1 - 0x1.05c61p-29 (to 1e-16) */
        r = __builtin_fmaf(k, 0x1.05c610p-29f, r);
        float p = 1.9875691500e-4f;
        p = __builtin_fmaf(p, r, 1.3981999507e-3f);
        p = __builtin_fmaf(p, r, 8.3334519073e-3f);
        p = __builtin_fmaf(p, r, 4.1665795894e-2f);
        p = __builtin_fmaf(p, r, 1.6666665459e-1f);
        p = __builtin_fmaf(p, r, 5.0000001201e-1f);
        p = __builtin_fmaf(p, r, 1.0f);
        p = __builtin_fmaf(p, r, 1.0f);
        int32_t e = (int32_t)fastloss_f2u(kr) - (0x4B400000 - 127);
        e = e > 0 ? e : 0;
        return p * fastloss_u2f((uint32_t)e << 23);
    }
    #define FASTLOSS_SOFTMAX_EXPF fastloss_expf_nonpos_fma
    #define FASTLOSS_SOFTMAX_EXPF_FMA 1
    #else
    #define FASTLOSS_SOFTMAX_EXPF fastloss_expf_nonpos
    #define FASTLOSS_SOFTMAX_EXPF_FMA 0
    #endif

    /* sum(v[0..n)) in double over eight accumulators, in a loop of its own (see fastloss_exp_sum_<s>) */
    #define FASTLOSS_SUM8(T, s) \
    FASTLOSS_INLINE double fastloss_sum8_##s(const T *v, ptrdiff_t n) \
    { \
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0; \
        ptrdiff_t i; \
        for (i = 0; i + 8 <= n; i += 8) { \
            a0 += v[i]; a1 += v[i + 1]; a2 += v[i + 2]; a3 += v[i + 3]; \
            a4 += v[i + 4]; a5 += v[i + 5]; a6 += v[i + 6]; a7 += v[i + 7]; \
        } \
        for (; i < n; i++) a0 += v[i]; \
        return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)); \
    }
    FASTLOSS_SUM8(float, f)
    FASTLOSS_SUM8(double, d)

    /* The loops whose float32 and float64 versions differ only in their type and in the exp of
     * arguments <= 0 (float: FASTLOSS_SOFTMAX_EXPF; double: vecmath.h's fl_exp_neg, exact there):
     * one definition, instantiated for both.
     * - fastloss_max_<s>: max of x[0..n). 32 running maxima in the "a > m ? a : m" (MAXPS) form
     *   vectorise (one would not: float max is not reassociated without -ffast-math; with eight
     *   GCC 12 left the loop scalar). The order does not change the maximum. It may skip a NaN:
     *   harmless, since exp(NaN - m) then makes the row's sum, loss and gradient NaN, as in torch.
     * - fastloss_exp_sum_<s>: out = exp(x - m); returns sum(out) accumulated in double (eight
     *   partial sums). Two loops: with the sum fused into the exp loop GCC keeps the accumulators
     *   in memory (slower).
     * - fastloss_scale_sub_<s>: g = g * a - b * w (w may be NULL when b == 0).
     * - spatial layout, one class row of a block: fastloss_max_update_<s>: mx = max(mx, x);
     *   fastloss_exp_acc_<s>: out = exp(x - mx), se += out; fastloss_scale_sub_vec_<s>:
     *   g = g * a - b * w_c. */
    #define FASTLOSS_SOFTMAX_LOOPS(T, s, EXP_NONPOS) \
    static T fastloss_max_##s(const T *x, ptrdiff_t n) \
    { \
        T acc[32], m; \
        ptrdiff_t i = 0; \
        int j; \
        for (j = 0; j < 32; j++) acc[j] = x[0]; \
        for (; i + 32 <= n; i += 32) \
            for (j = 0; j < 32; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j]; \
        m = acc[0]; \
        for (j = 1; j < 32; j++) m = acc[j] > m ? acc[j] : m; \
        for (; i < n; i++) m = x[i] > m ? x[i] : m; \
        return m; \
    } \
    static double fastloss_exp_sum_##s(const T *x, T *out, ptrdiff_t n, T m) \
    { \
        ptrdiff_t i; \
        for (i = 0; i < n; i++) out[i] = EXP_NONPOS(x[i] - m); \
        return fastloss_sum8_##s(out, n); \
    } \
    static void fastloss_scale_sub_##s(T *g, const T *w, ptrdiff_t n, T a, T b) \
    { \
        ptrdiff_t i; \
        if (w == NULL || b == 0) \
            for (i = 0; i < n; i++) g[i] = g[i] * a; \
        else \
            for (i = 0; i < n; i++) g[i] = g[i] * a - b * w[i]; \
    } \
    static void fastloss_max_update_##s(T *mx, const T *x, ptrdiff_t n) \
    { \
        ptrdiff_t i; \
        for (i = 0; i < n; i++) mx[i] = x[i] > mx[i] ? x[i] : mx[i]; \
    } \
    static void fastloss_exp_acc_##s(const T *x, const T *mx, T *out, double *se, ptrdiff_t n) \
    { \
        ptrdiff_t i; \
        for (i = 0; i < n; i++) { \
            T e = EXP_NONPOS(x[i] - mx[i]); \
            out[i] = e; \
            se[i] += e; \
        } \
    } \
    static void fastloss_scale_sub_vec_##s(T *g, const T *a, const T *b, T wc, ptrdiff_t n) \
    { \
        ptrdiff_t i; \
        for (i = 0; i < n; i++) g[i] = g[i] * a[i] - b[i] * wc; \
    }
    FASTLOSS_SOFTMAX_LOOPS(float, f, FASTLOSS_SOFTMAX_EXPF)
    FASTLOSS_SOFTMAX_LOOPS(double, d, fl_exp_neg)

    /* log1p(e) in float for e in [0, 1] (or NaN), vectorisable: u = 1 + e with its exact
     * rounding error c; log u = k ln2 + 2 atanh(f / (2 + f)) with u = 2^k (1 + f),
     * sqrt(2)/2 <= 1 + f < sqrt(2) (k in {0, 1}, chosen on the bits); log1p(e) = log u + c / u.
     * Error < 2.5 ulp (checked against double log1p on 3M points). */
    FASTLOSS_INLINE float fastloss_log1pf_unit(float e)
    {
        float u = 1.0f + e;
        float c = e - (u - 1.0f);
        uint32_t big = -(uint32_t)(fastloss_f2u(u) > 0x3FB504F3u);      /* u > sqrt(2) */
        float m = fastloss_u2f(fastloss_f2u(u) - (0x00800000u & big));  /* u / 2 when big */
        float kln2 = fastloss_u2f(0x3F317218u & big);                    /* ln2 or 0 */
        float f = m - 1.0f;
        float s = f / (2.0f + f);
        float z = s * s;
        float q = 1.0f / 9.0f;
        q = q * z + 1.0f / 7.0f;
        q = q * z + 1.0f / 5.0f;
        q = q * z + 1.0f / 3.0f;
        return kln2 + (2.0f * s + 2.0f * s * z * q) + c / u;
    }

    /* multilabel_soft_margin_loss, one float32 row of n classes (x, y contiguous; w contiguous
     * when w_step == 1, one value when 0): tmp = w (y softplus(-x) + (1 - y) softplus(x)),
     * written as w ((x >= 0 ? 1 - y : -y) x + log1p(exp(-|x|))) with the selects on the bits; gx = gs w
     * (sigmoid(x) - y), gy = -gs w x where wanted (non-NULL). Returns sum(tmp) in double. */
    static double fastloss_mlsm_row_f(const float *x, const float *y, const float *w, int w_step,
                                      ptrdiff_t n, float *tmp, float *gx, float *gy, float gs)
    {
        ptrdiff_t i;
        for (i = 0; i < n; i++) {
            uint32_t ux = fastloss_f2u(x[i]);
            uint32_t neg = -(ux >> 31);
            float e = fastloss_expf_nonpos(-fabsf(x[i]));   /* exp(-|x|) (-|x| made on the bits stays scalar) */
            /* max(x, 0) - y x as (1 - y) x for x >= 0, -y x below: no cancellation (both terms >= 0
             * for y in [0, 1]; max(x, 0) - y x loses the digits of a small result, e.g. x = 4.67,
             * y = 0.9375); the arrangement of the GPU kernel */
            float coef = fastloss_u2f((fastloss_f2u(-y[i]) & neg) | (fastloss_f2u(1.0f - y[i]) & ~neg));
            float wv = w[i * w_step];
            tmp[i] = wv * (coef * x[i] + fastloss_log1pf_unit(e));
        }
        if (gx != NULL)
            for (i = 0; i < n; i++) {
                uint32_t ux = fastloss_f2u(x[i]);
                uint32_t neg = -(ux >> 31);
                float e = fastloss_expf_nonpos(-fabsf(x[i]));
                float num = fastloss_u2f((fastloss_f2u(e) & neg) | (0x3F800000u & ~neg));  /* x < 0 ? e : 1 */
                gx[i] = gs * w[i * w_step] * (num / (1.0f + e) - y[i]);
            }
        if (gy != NULL)
            for (i = 0; i < n; i++) gy[i] = -gs * w[i * w_step] * x[i];
        return fastloss_sum8_f(tmp, n);
    }

    /* The float64 loops, the same arrangement as the float32 ones above (the selects on the
     * bits, the sums in their own loop over eight accumulators), with vecmath.h's
     * double exp/log1p for arguments they are exact on: fl_exp_neg for the shifted logits and
     * -|x| (<= 0, or NaN), fl_log1p_unit for exp(-|x|) in [0, 1]. As Cython loops calling the
     * general fl_exp/fl_log1p they ran scalar at two doubles per SSE2 register at best. */
    /* multilabel_soft_margin_loss, one float64 row: fastloss_mlsm_row_f's formulas */
    static double fastloss_mlsm_row_d(const double *x, const double *y, const double *w, int w_step,
                                      ptrdiff_t n, double *tmp, double *gx, double *gy, double gs)
    {
        ptrdiff_t i;
        for (i = 0; i < n; i++) {
            uint64_t ux = fl_vm_bits(x[i]);
            uint64_t neg = -(ux >> 63);
            double e = fl_exp_neg(-fabs(x[i]));    /* exp(-|x|) (-|x| made on the bits stays scalar) */
            /* max(x, 0) - y x without cancellation, as in the float32 row */
            double coef = fl_vm_double((fl_vm_bits(-y[i]) & neg) | (fl_vm_bits(1.0 - y[i]) & ~neg));
            tmp[i] = w[i * w_step] * (coef * x[i] + fl_log1p_unit(e));
        }
        if (gx != NULL)
            for (i = 0; i < n; i++) {
                uint64_t ux = fl_vm_bits(x[i]);
                uint64_t neg = -(ux >> 63);
                double e = fl_exp_neg(-fabs(x[i]));
                double num = fl_vm_double((fl_vm_bits(e) & neg) | (0x3FF0000000000000ull & ~neg));  /* x < 0 ? e : 1 */
                gx[i] = gs * w[i * w_step] * (num / (1.0 + e) - y[i]);
            }
        if (gy != NULL)
            for (i = 0; i < n; i++) gy[i] = -gs * w[i * w_step] * x[i];
        return fastloss_sum8_d(tmp, n);
    }

    /* nll_loss's (N, C) forward over n samples: loss_i = -w[t_i] x[i, t_i] (w NULL: unit
     * weights), 0 where t_i == ignore, into out[i] (reduction='none') or else p[i]. A target
     * outside [0, C) is not read: its loss is 0 and it is counted, as is an ignored one when
     * refuse_ignored (the common case's check, made in the same pass); returns the count. */
    #define FASTLOSS_NLL_FORWARD(T, s) \
    static ptrdiff_t fastloss_nll_forward_##s(const T *x, ptrdiff_t xs0, ptrdiff_t xs1, const int64_t *t, \
                                             const T *w, long long ignore, int refuse_ignored, ptrdiff_t C, \
                                             ptrdiff_t n, T *out, double *p) \
    { \
        ptrdiff_t i, refused = 0; \
        for (i = 0; i < n; i++) { \
            int64_t ti = t[i]; \
            T loss = 0; \
            if (ti == ignore) \
                refused += refuse_ignored; \
            else if ((uint64_t)ti < (uint64_t)C) \
                loss = -((w == NULL ? (T)1 : w[ti]) * x[i * xs0 + ti * xs1]); \
            else \
                refused++; \
            if (out != NULL) \
                out[i] = loss; \
            else \
                p[i] = loss; \
        } \
        return refused; \
    }
    FASTLOSS_NLL_FORWARD(float, f)
    FASTLOSS_NLL_FORWARD(double, d)
    """
    float fastloss_max_f(const float* x, Py_ssize_t n) noexcept nogil
    double fastloss_exp_sum_f(const float* x, float* out, Py_ssize_t n, float m) noexcept nogil
    int FASTLOSS_SOFTMAX_EXPF_FMA
    void fastloss_scale_sub_f(float* g, const float* w, Py_ssize_t n, float a, float b) noexcept nogil
    void fastloss_max_update_f(float* mx, const float* x, Py_ssize_t n) noexcept nogil
    void fastloss_exp_acc_f(const float* x, const float* mx, float* out, double* se, Py_ssize_t n) noexcept nogil
    double fastloss_mlsm_row_f(const float* x, const float* y, const float* w, int w_step, Py_ssize_t n,
                               float* tmp, float* gx, float* gy, float gs) noexcept nogil
    void fastloss_scale_sub_vec_f(float* g, const float* a, const float* b, float wc, Py_ssize_t n) noexcept nogil
    double fastloss_max_d(const double* x, Py_ssize_t n) noexcept nogil
    double fastloss_exp_sum_d(const double* x, double* out, Py_ssize_t n, double m) noexcept nogil
    void fastloss_scale_sub_d(double* g, const double* w, Py_ssize_t n, double a, double b) noexcept nogil
    void fastloss_max_update_d(double* mx, const double* x, Py_ssize_t n) noexcept nogil
    void fastloss_exp_acc_d(const double* x, const double* mx, double* out, double* se, Py_ssize_t n) noexcept nogil
    void fastloss_scale_sub_vec_d(double* g, const double* a, const double* b, double wc, Py_ssize_t n) noexcept nogil
    double fastloss_mlsm_row_d(const double* x, const double* y, const double* w, int w_step, Py_ssize_t n,
                               double* tmp, double* gx, double* gy, double gs) noexcept nogil
    Py_ssize_t fastloss_nll_forward_f(const float* x, Py_ssize_t xs0, Py_ssize_t xs1, const int64_t* t, const float* w,
                                      long long ignore, int refuse_ignored, Py_ssize_t C, Py_ssize_t n, float* out,
                                      double* p) noexcept nogil
    Py_ssize_t fastloss_nll_forward_d(const double* x, Py_ssize_t xs0, Py_ssize_t xs1, const int64_t* t,
                                      const double* w, long long ignore, int refuse_ignored, Py_ssize_t C,
                                      Py_ssize_t n, double* out, double* p) noexcept nogil


# The float32 softmax exp of this build: "fma" in the AVX2 and AVX-512 builds (the same bits in
# both), "plain" in the baseline one (see fastloss_expf_nonpos_fma).
SOFTMAX_EXP = "fma" if FASTLOSS_SOFTMAX_EXPF_FMA else "plain"


def softmax_exp_row(const float[::1] x, float m):
    """``(exp(x - m), their sum in double)`` by this build's float32 softmax loop (for the tests)."""
    out = np.empty(x.shape[0], dtype=np.float32)
    cdef float[::1] o = out
    cdef double total = fastloss_exp_sum_f(&x[0], &o[0], x.shape[0], m) if x.shape[0] else 0.0
    return out, total


cdef inline Py_ssize_t es(Py_ssize_t byte_stride, Py_ssize_t itemsize) noexcept nogil:
    return byte_stride // itemsize


cdef inline double grad_factor(const floating* go, Py_ssize_t i, double g_scale) noexcept nogil:
    # grad_output of one loss element: per-element array (reduction='none') or the scalar scale
    if go != NULL:
        return g_scale * go[i]
    return g_scale


# Fused-type front ends: each dtype goes to its C loop above.

cdef inline floating row_max(const floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return fastloss_max_f(x, n)
    else:
        return fastloss_max_d(x, n)


cdef inline double exp_sum(const floating* x, floating* out, Py_ssize_t n, floating m) noexcept nogil:
    """out = exp(x - m); returns the sum in double."""
    if floating is float:
        return fastloss_exp_sum_f(x, out, n, m)
    else:
        return fastloss_exp_sum_d(x, out, n, m)


cdef inline void scale_sub(floating* g, const floating* w, Py_ssize_t n, floating a, floating b) noexcept nogil:
    """g = g * a - b * w (b == 0: g * a)."""
    if floating is float:
        fastloss_scale_sub_f(g, w, n, a, b)
    else:
        fastloss_scale_sub_d(g, w, n, a, b)


cdef inline void max_update(floating* mx, const floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        fastloss_max_update_f(mx, x, n)
    else:
        fastloss_max_update_d(mx, x, n)


cdef inline void exp_acc(const floating* x, const floating* mx, floating* out, double* se, Py_ssize_t n) noexcept nogil:
    """out = exp(x - mx), se += out (elementwise over a block of positions)."""
    if floating is float:
        fastloss_exp_acc_f(x, mx, out, se, n)
    else:
        fastloss_exp_acc_d(x, mx, out, se, n)


cdef inline void scale_sub_vec(floating* g, const floating* a, const floating* b, floating wc, Py_ssize_t n) noexcept nogil:
    """g = g * a - b * wc (elementwise over a block of positions)."""
    if floating is float:
        fastloss_scale_sub_vec_f(g, a, b, wc, n)
    else:
        fastloss_scale_sub_vec_d(g, a, b, wc, n)


cdef inline double weighted_shifted_sum(const floating* w, const floating* x, Py_ssize_t n, floating m) noexcept nogil:
    # sum_c w_c (x_c - m) in double (the label-smoothing term, relative to the row maximum)
    cdef double a0 = 0, a1 = 0
    cdef Py_ssize_t i = 0
    while i + 2 <= n:
        a0 += w[i] * (x[i] - m)
        a1 += w[i + 1] * (x[i + 1] - m)
        i += 2
    if i < n:
        a0 += w[i] * (x[i] - m)
    return a0 + a1


def ce_index_rows(const floating[:, :, :] x, const int64_t[:, ::1] t, const floating[::1] w,
                  long long ignore_index, double eps, floating[:, ::1] out, floating[:, :, ::1] grad,
                  const floating[:, ::1] go, double g_scale, double[::1] partial, int n_threads):
    """Class-index cross entropy, row layout (S == 1, class stride 1)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], c
    cdef const floating* wp = &w[0]
    cdef double W = 0
    cdef floating* outb = NULL
    cdef floating* gb = NULL
    cdef const floating* gob = NULL
    cdef FlGuard guard
    if N == 0:
        return
    if eps != 0:  # without smoothing only w_t counts: a NaN weight of an untargeted class must not leak in
        for c in range(C):
            W += wp[c]
    if out is not None:
        outb = &out[0, 0]
    if grad is not None:
        gb = &grad[0, 0, 0]
    if go is not None:
        gob = &go[0, 0]
    fl_guard_init(&guard)
    ce_rows_run(&x[0, 0, 0], es(x.strides[0], sizeof(floating)), N, C, &t[0, 0], wp, ignore_index, eps, W,
                outb, gb, gob, g_scale, &partial[0], n_threads, &guard)
    guard_raise(&guard)


cdef void ce_rows_run(const floating* xb, Py_ssize_t xs0, Py_ssize_t N, Py_ssize_t C, const int64_t* tb,
                      const floating* wp, long long ignore_index, double eps, double W, floating* outb,
                      floating* gb, const floating* gob, double g_scale, double* pb, int n_threads,
                      FlGuard* guard) noexcept nogil:
    """The loop of :func:`ce_index_rows` on raw pointers (also run by :func:`common_case`):
    ``outb`` NULL sums each row's loss into ``pb``; ``gb`` NULL computes no gradient; ``wp`` NULL
    means unit weights (only without label smoothing: eps == 0 reads no other weight)."""
    cdef bint store = outb != NULL, want_grad = gb != NULL
    cdef double eps_c = eps / C, loss, se, swx, lse, wt, gm
    cdef floating m, fa, fb
    cdef floating* row
    cdef floating* buf = NULL
    cdef Py_ssize_t n
    cdef int64_t ti
    cdef long long poll = fl_poll_mask(C)
    with parallel(num_threads=n_threads):
        # exp scratch for the forward-only call (the gradient row serves when there is one)
        buf = <floating*> fl_guard_alloc(guard, 1 if want_grad else C, sizeof(floating))
        for n in prange(N, schedule='static'):
            if fl_guard_tick(guard, n, poll):
                continue
            ti = tb[n]
            row = gb + n * C if want_grad else buf
            if ti == ignore_index:
                if want_grad:
                    memset(row, 0, C * sizeof(floating))
                loss = 0
            else:
                m = row_max(xb + n * xs0, C)
                se = exp_sum(xb + n * xs0, row, C, m)
                swx = weighted_shifted_sum(wp, xb + n * xs0, C, m) if eps != 0 else 0
                lse = f_log(se)
                wt = 1 if wp == NULL else wp[ti]
                loss = (1 - eps) * wt * (lse - (xb[n * xs0 + ti] - m)) + eps_c * (W * lse - swx)
                if want_grad:
                    gm = grad_factor(gob, n, g_scale)
                    fa = <floating>(gm * ((1 - eps) * wt + eps_c * W) / se)
                    fb = <floating>(gm * eps_c)
                    scale_sub(row, wp, C, fa, fb)
                    row[ti] = row[ti] - <floating>(gm * (1 - eps) * wt)
            if store:
                outb[n] = <floating>loss
            else:
                pb[n] = loss
        free(buf)


def ce_index_spatial(const floating[:, :, :] x, const int64_t[:, ::1] t, const floating[::1] w,
                     long long ignore_index, double eps, floating[:, ::1] out, floating[:, :, ::1] grad,
                     const floating[:, ::1] go, double g_scale, double[::1] partial, int n_threads):
    """Class-index cross entropy, spatial layout (S > 1, spatial stride 1): blocks of SBLOCK positions."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t xs0 = es(x.strides[0], sizeof(floating)), xs1 = es(x.strides[1], sizeof(floating))
    cdef Py_ssize_t nsb = (S + SBLOCK - 1) // SBLOCK
    cdef bint store = out is not None, want_grad = grad is not None
    cdef const floating* xb
    cdef const floating* xr
    cdef const floating* gob = NULL
    cdef const floating* wp = &w[0]
    cdef const int64_t* tb = &t[0, 0]
    cdef floating* gb = NULL
    cdef floating* gr
    cdef floating* outb = NULL
    cdef double* pb = &partial[0]
    cdef double W = 0, eps_c = eps / C, loss, total, lse, wt, gm
    cdef floating wc
    cdef Py_ssize_t item, n, s0, L, c, k
    cdef int64_t ti
    cdef floating* mx
    cdef double* se
    cdef double* swx
    cdef double* lsev
    cdef floating* fa
    cdef floating* fb
    cdef floating* scratch
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(C * SBLOCK)
    if N == 0 or S == 0:
        return
    if eps != 0:  # without smoothing only w_t counts: a NaN weight of an untargeted class must not leak in
        for c in range(C):
            W += wp[c]
    xb = &x[0, 0, 0]
    if want_grad:
        gb = &grad[0, 0, 0]
    if store:
        outb = &out[0, 0]
    if go is not None:
        gob = &go[0, 0]
    fl_guard_init(&guard)
    with nogil, parallel(num_threads=n_threads):
        mx = <floating*> fl_guard_alloc(&guard, SBLOCK, sizeof(floating))
        fa = <floating*> fl_guard_alloc(&guard, SBLOCK, sizeof(floating))
        fb = <floating*> fl_guard_alloc(&guard, SBLOCK, sizeof(floating))
        se = <double*> fl_guard_alloc(&guard, SBLOCK, sizeof(double))
        swx = <double*> fl_guard_alloc(&guard, SBLOCK, sizeof(double))
        lsev = <double*> fl_guard_alloc(&guard, SBLOCK, sizeof(double))
        scratch = <floating*> fl_guard_alloc(&guard, SBLOCK, sizeof(floating))
        for item in prange(N * nsb, schedule='static'):
            if fl_guard_tick(&guard, item, poll):
                continue
            n = item // nsb
            s0 = (item - n * nsb) * SBLOCK
            L = S - s0
            if L > SBLOCK:
                L = SBLOCK
            xr = xb + n * xs0 + s0
            gr = gb + n * C * S + s0 if want_grad else NULL
            for k in range(L):
                mx[k] = xr[k]
                se[k] = 0
                swx[k] = 0
            for c in range(1, C):
                max_update(mx, xr + c * xs1, L)
            for c in range(C):
                exp_acc(xr + c * xs1, mx, gr + c * S if want_grad else scratch, se, L)
                if eps != 0:
                    wc = wp[c]
                    for k in range(L):
                        swx[k] += wc * (xr[c * xs1 + k] - mx[k])
            for k in range(L):  # the logs in a loop of their own, vectorised
                lsev[k] = f_log(se[k])
            total = 0
            for k in range(L):
                ti = tb[n * S + s0 + k]
                if ti == ignore_index:
                    loss = 0
                    fa[k] = 0
                    fb[k] = 0
                else:
                    lse = lsev[k]
                    wt = wp[ti]
                    loss = (1 - eps) * wt * (lse - (xr[ti * xs1 + k] - mx[k]))
                    if eps != 0:
                        loss = loss + eps_c * (W * lse - swx[k])
                    if want_grad:
                        gm = grad_factor(gob, n * S + s0 + k, g_scale)
                        fa[k] = <floating>(gm * ((1 - eps) * wt + eps_c * W) / se[k])
                        fb[k] = <floating>(gm * eps_c)
                if store:
                    outb[n * S + s0 + k] = <floating>loss
                else:
                    total = total + loss
            if not store:
                pb[item] = total
            if want_grad:
                for c in range(C):
                    scale_sub_vec(gr + c * S, fa, fb, wp[c] if eps != 0 else 0, L)
                for k in range(L):
                    ti = tb[n * S + s0 + k]
                    if ti != ignore_index:
                        gm = grad_factor(gob, n * S + s0 + k, g_scale)
                        gr[ti * S + k] = gr[ti * S + k] - <floating>(gm * (1 - eps) * wp[ti])
        free(mx)
        free(fa)
        free(fb)
        free(se)
        free(swx)
        free(lsev)
        free(scratch)
    guard_raise(&guard)


def ce_prob_rows(const floating[:, :, :] x, const floating[:, :, :] y, const floating[::1] w, double eps,
                 floating[:, ::1] out, floating[:, :, ::1] grad, floating[:, :, ::1] tgrad,
                 const floating[:, ::1] go, double g_scale, double[::1] partial, int n_threads):
    """Probability-target cross entropy, row layout (S == 1, class stride 1 for x and y)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    cdef Py_ssize_t xs0 = es(x.strides[0], sizeof(floating)), ys0 = es(y.strides[0], sizeof(floating))
    cdef bint store = out is not None, want_grad = grad is not None, want_tgrad = tgrad is not None
    cdef const floating* xb
    cdef const floating* yb
    cdef const floating* gob = NULL
    cdef const floating* wp = &w[0]
    cdef floating* gb = NULL
    cdef floating* tgb = NULL
    cdef floating* outb = NULL
    cdef double* pb = &partial[0]
    cdef double eps_c = eps / C, keep = 1 - eps, se, swy, swyx, lse, gm, wy
    cdef floating m, fa, fb, ft
    cdef floating* row
    cdef floating* buf
    cdef Py_ssize_t n, c
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(C)
    if N == 0:
        return
    xb = &x[0, 0, 0]
    yb = &y[0, 0, 0]
    if want_grad:
        gb = &grad[0, 0, 0]
    if want_tgrad:
        tgb = &tgrad[0, 0, 0]
    if store:
        outb = &out[0, 0]
    if go is not None:
        gob = &go[0, 0]
    fl_guard_init(&guard)
    with nogil, parallel(num_threads=n_threads):
        buf = <floating*> fl_guard_alloc(&guard, 1 if want_grad else C, sizeof(floating))
        for n in prange(N, schedule='static'):
            if fl_guard_tick(&guard, n, poll):
                continue
            row = gb + n * C if want_grad else buf
            m = row_max(xb + n * xs0, C)
            se = exp_sum(xb + n * xs0, row, C, m)
            swy = 0
            swyx = 0
            for c in range(C):
                wy = wp[c] * (keep * yb[n * ys0 + c] + eps_c)
                swy = swy + wy
                swyx = swyx + wy * (xb[n * xs0 + c] - m)
            lse = f_log(se)
            if store:
                outb[n] = <floating>(swy * lse - swyx)
            else:
                pb[n] = swy * lse - swyx
            gm = grad_factor(gob, n, g_scale)
            if want_grad:
                fa = <floating>(gm * swy / se)
                fb = <floating>gm
                for c in range(C):
                    row[c] = row[c] * fa - fb * wp[c] * <floating>(keep * yb[n * ys0 + c] + eps_c)
            if want_tgrad:
                ft = <floating>(gm * keep)
                for c in range(C):
                    tgb[n * C + c] = ft * wp[c] * <floating>(lse - (xb[n * xs0 + c] - m))
        free(buf)
    guard_raise(&guard)


def ce_prob_spatial(const floating[:, :, :] x, const floating[:, :, :] y, const floating[::1] w, double eps,
                    floating[:, ::1] out, floating[:, :, ::1] grad, floating[:, :, ::1] tgrad,
                    const floating[:, ::1] go, double g_scale, double[::1] partial, int n_threads):
    """Probability-target cross entropy, spatial layout (S > 1, spatial stride 1 for x and y)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t xs0 = es(x.strides[0], sizeof(floating)), xs1 = es(x.strides[1], sizeof(floating))
    cdef Py_ssize_t ys0 = es(y.strides[0], sizeof(floating)), ys1 = es(y.strides[1], sizeof(floating))
    cdef Py_ssize_t nsb = (S + SBLOCK - 1) // SBLOCK
    cdef bint store = out is not None, want_grad = grad is not None, want_tgrad = tgrad is not None
    cdef const floating* xb
    cdef const floating* yb
    cdef const floating* xr
    cdef const floating* yr
    cdef const floating* gob = NULL
    cdef const floating* wp = &w[0]
    cdef floating* gb = NULL
    cdef floating* tgb = NULL
    cdef floating* gr
    cdef floating* tgr
    cdef floating* outb = NULL
    cdef double* pb = &partial[0]
    cdef double eps_c = eps / C, keep = 1 - eps, total, loss, gm
    cdef floating xm, wy, wc
    cdef Py_ssize_t item, n, s0, L, c, k
    cdef floating* mx
    cdef double* se
    cdef double* swy
    cdef double* swyx
    cdef double* lsed
    cdef floating* fa
    cdef floating* fb
    cdef floating* lse
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(C * SBLOCK)
    if N == 0 or S == 0:
        return
    xb = &x[0, 0, 0]
    yb = &y[0, 0, 0]
    if want_grad:
        gb = &grad[0, 0, 0]
    if want_tgrad:
        tgb = &tgrad[0, 0, 0]
    if store:
        outb = &out[0, 0]
    if go is not None:
        gob = &go[0, 0]
    fl_guard_init(&guard)
    with nogil, parallel(num_threads=n_threads):
        mx = <floating*> fl_guard_alloc(&guard, SBLOCK, sizeof(floating))
        fa = <floating*> fl_guard_alloc(&guard, SBLOCK, sizeof(floating))
        fb = <floating*> fl_guard_alloc(&guard, SBLOCK, sizeof(floating))
        lse = <floating*> fl_guard_alloc(&guard, SBLOCK, sizeof(floating))
        se = <double*> fl_guard_alloc(&guard, SBLOCK, sizeof(double))
        swy = <double*> fl_guard_alloc(&guard, SBLOCK, sizeof(double))
        swyx = <double*> fl_guard_alloc(&guard, SBLOCK, sizeof(double))
        lsed = <double*> fl_guard_alloc(&guard, SBLOCK, sizeof(double))
        for item in prange(N * nsb, schedule='static'):
            if fl_guard_tick(&guard, item, poll):
                continue
            n = item // nsb
            s0 = (item - n * nsb) * SBLOCK
            L = S - s0
            if L > SBLOCK:
                L = SBLOCK
            xr = xb + n * xs0 + s0
            yr = yb + n * ys0 + s0
            gr = gb + n * C * S + s0 if want_grad else NULL
            tgr = tgb + n * C * S + s0 if want_tgrad else NULL
            for k in range(L):
                mx[k] = xr[k]
                se[k] = 0
                swy[k] = 0
                swyx[k] = 0
            for c in range(1, C):
                max_update(mx, xr + c * xs1, L)
            for c in range(C):
                exp_acc(xr + c * xs1, mx, gr + c * S if want_grad else lse, se, L)
                wc = wp[c]
                for k in range(L):
                    xm = xr[c * xs1 + k] - mx[k]
                    wy = wc * <floating>(keep * yr[c * ys1 + k] + eps_c)
                    swy[k] += wy
                    swyx[k] += wy * xm
            for k in range(L):  # the logs in a loop of their own, vectorised (as in ce_index_spatial)
                lsed[k] = f_log(se[k])
            total = 0
            for k in range(L):
                loss = lsed[k]
                lse[k] = <floating>loss
                loss = swy[k] * loss - swyx[k]
                gm = grad_factor(gob, n * S + s0 + k, g_scale)
                fa[k] = <floating>(gm * swy[k] / se[k])
                fb[k] = <floating>gm
                if store:
                    outb[n * S + s0 + k] = <floating>loss
                else:
                    total = total + loss
            if not store:
                pb[item] = total
            for c in range(C):
                wc = wp[c]
                if want_grad:
                    for k in range(L):
                        gr[c * S + k] = gr[c * S + k] * fa[k] - fb[k] * wc * <floating>(keep * yr[c * ys1 + k] + eps_c)
                if want_tgrad:
                    for k in range(L):
                        tgr[c * S + k] = fb[k] * <floating>keep * wc * (lse[k] - (xr[c * xs1 + k] - mx[k]))
        free(mx)
        free(fa)
        free(fb)
        free(lse)
        free(se)
        free(swy)
        free(swyx)
        free(lsed)
    guard_raise(&guard)


def nll(const floating[:, :, :] x, const int64_t[:, ::1] t, const floating[::1] w, long long ignore_index,
        floating[:, ::1] out, floating[:, :, ::1] grad, const floating[:, ::1] go, double g_scale,
        double[::1] partial, int n_threads):
    """nll_loss: loss = -w_t x_t (0 where ignored); the gradient is zero except -w_t at the target.

    One sample per prange step: its loss terms are summed into ``partial[n]`` and its nonzero
    gradient entries written. The gradient is zeroed first in one large memset per thread: at
    that size libc streams the zeros past the cache (non-temporal stores), which halves the memory
    traffic of this memory-bound gradient compared with a memset per row.
    """
    cdef Py_ssize_t N = x.shape[0], S = x.shape[2]
    cdef floating* outb = NULL
    cdef floating* gb = NULL
    cdef const floating* gob = NULL
    cdef FlGuard guard
    if N == 0 or S == 0:
        return
    if out is not None:
        outb = &out[0, 0]
    if grad is not None:
        gb = &grad[0, 0, 0]
    if go is not None:
        gob = &go[0, 0]
    fl_guard_init(&guard)
    nll_run(&x[0, 0, 0], es(x.strides[0], sizeof(floating)), es(x.strides[1], sizeof(floating)),
            es(x.strides[2], sizeof(floating)), N, x.shape[1], S, &t[0, 0], &w[0], ignore_index,
            outb, gb, gob, g_scale, &partial[0], n_threads, &guard)
    guard_raise(&guard)


cdef inline Py_ssize_t nll_forward(const floating* x, Py_ssize_t xs0, Py_ssize_t xs1, const int64_t* t,
                                   const floating* w, long long ignore_index, int refuse_ignored, Py_ssize_t C,
                                   Py_ssize_t n, floating* out, double* p) noexcept nogil:
    if floating is float:
        return fastloss_nll_forward_f(x, xs0, xs1, t, w, ignore_index, refuse_ignored, C, n, out, p)
    else:
        return fastloss_nll_forward_d(x, xs0, xs1, t, w, ignore_index, refuse_ignored, C, n, out, p)


cdef Py_ssize_t nll_run(const floating* xb, Py_ssize_t xs0, Py_ssize_t xs1, Py_ssize_t xs2, Py_ssize_t N,
                        Py_ssize_t C, Py_ssize_t S, const int64_t* tb, const floating* wp, long long ignore_index,
                        floating* outb, floating* gb, const floating* gob, double g_scale, double* pb,
                        int n_threads, FlGuard* guard, bint refuse_ignored=False) noexcept nogil:
    """The loop of :func:`nll` on raw pointers (also run by :func:`common_case`). ``wp`` NULL: unit
    weights (the same values as a weight of ones, without its read per sample).

    The (N, C) forward checks the targets as it reads them (fastloss_nll_forward): it returns how
    many lie outside [0, C), plus, with ``refuse_ignored``, how many equal ``ignore_index`` (the
    common case's check, which it leaves to this pass); their losses are 0 and nothing outside
    their row is read. Every other call returns 0 (its targets were checked before)."""
    cdef bint store = outb != NULL, want_grad = gb != NULL
    cdef double total, loss
    cdef Py_ssize_t n, s, k, lo, hi, chunk, refused = 0
    cdef int64_t ti
    cdef floating wt
    cdef long long poll = fl_poll_mask(S)
    if want_grad:
        chunk = (N + n_threads - 1) // n_threads
        for k in prange(n_threads, schedule='static', num_threads=n_threads):
            lo = k * chunk
            hi = lo + chunk
            if hi > N:
                hi = N
            if lo < hi:
                memset(gb + lo * C * S, 0, (hi - lo) * C * S * sizeof(floating))
    if S == 1 and not want_grad:
        # the (N, C) forward: one read per sample, nothing else, in a C loop over each thread's
        # share of the samples (the general loop below costs half as much again per sample, and a
        # prange step per sample a third as much), in chunks of at most NLL_CHUNK between polls
        chunk = min((N + n_threads - 1) // n_threads, NLL_CHUNK)
        poll = fl_poll_mask(chunk)
        for k in prange((N + chunk - 1) // chunk, schedule='static', num_threads=n_threads):
            if fl_guard_tick(guard, k, poll):
                continue
            lo = k * chunk
            hi = min(lo + chunk, N)
            refused += nll_forward(xb + lo * xs0, xs0, xs1, tb + lo, wp, ignore_index, refuse_ignored, C, hi - lo,
                                   outb + lo if store else NULL, pb + lo if not store else NULL)
        return refused
    for n in prange(N, schedule='static', num_threads=n_threads):
        if fl_guard_tick(guard, n, poll):
            continue
        total = 0
        for s in range(S):
            ti = tb[n * S + s]
            if ti == ignore_index:
                loss = 0
            else:
                wt = <floating>1 if wp == NULL else wp[ti]
                loss = -wt * xb[n * xs0 + ti * xs1 + s * xs2]
                if want_grad:
                    gb[n * C * S + ti * S + s] = <floating>(-grad_factor(gob, n * S + s, g_scale) * wt)
            if store:
                outb[n * S + s] = <floating>loss
            else:
                total = total + loss
        if not store:
            pb[n] = total
    return 0


# The common call of nll_loss / class-index cross_entropy as one compiled step: at 8x10 the
# Python checks, NumPy allocations and memoryview arguments of the general path cost several times
# the loop itself.

def common_case(threads_for, input, target, long long ignore_index, bint mean, bint want_grad, bint is_nll):
    """``(loss, grad)`` of nll_loss (``is_nll``) or class-index cross_entropy in the common case,
    or None for any other call (the general path then checks and computes it). ``threads_for``:
    the loss layer's team-size policy (see ``common_case.pxd``'s ``team_size``).

    The common case: an aligned, native-order, C-contiguous ``(N, C)`` float32 or float64 ndarray
    input with ``N > 0`` and ``C > 0``; a C-contiguous native int64 ``(N,)`` target
    whose entries all lie in ``[0, C)`` and differ from ``ignore_index``; and (the caller's part)
    no weight, no smoothing, 'mean' or 'sum', grad_output at its default. It runs the general
    path's row loops with its team size and adds the row losses as ``sum_partials`` does: the same
    bits. ``loss`` is a 0-d array of the input's dtype; ``grad`` the input's gradient (None unless
    ``want_grad``)."""
    if not cnp.PyArray_CheckExact(input):
        return None
    cdef int typenum = cnp.PyArray_TYPE(<cnp.ndarray>input)
    if ((typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64) or not plain_array(input, typenum, 2)
            or not plain_array(target, cnp.NPY_INT64, 1)):
        return None
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(<cnp.ndarray>input)
    cdef Py_ssize_t N = dims[0], C = dims[1], n
    if cnp.PyArray_DIMS(<cnp.ndarray>target)[0] != N or N == 0 or C == 0:
        return None
    cdef const int64_t* tb = <const int64_t*> cnp.PyArray_DATA(<cnp.ndarray>target)
    cdef int64_t ti
    cdef bint nll_fwd = is_nll and not want_grad
    if not nll_fwd:  # (nll's forward checks its targets as it reads them)
        for n in range(N):
            ti = tb[n]
            if ti < 0 or ti >= C or ti == ignore_index:
                return None
    # the general path's team sizes (nll's forward touches one entry per sample)
    cdef int threads = team_size(threads_for, N * NLL_SAMPLE_WORK if nll_fwd else N * C)
    grad = cnp.PyArray_EMPTY(2, dims, typenum, 0) if want_grad else None
    cdef double g_scale = 1.0 / N if mean else 1.0
    cdef void* gb = NULL if grad is None else cnp.PyArray_DATA(<cnp.ndarray>grad)
    cdef double total
    cdef bint refused
    if typenum == cnp.NPY_FLOAT32:
        total = common_rows(<const float*> cnp.PyArray_DATA(<cnp.ndarray>input), N, C, tb, ignore_index, is_nll,
                            <float*> gb, g_scale, threads, &refused)
    else:
        total = common_rows(<const double*> cnp.PyArray_DATA(<cnp.ndarray>input), N, C, tb, ignore_index, is_nll,
                            <double*> gb, g_scale, threads, &refused)
    if refused:
        return None
    return scalar_result(total / N if mean else total, typenum), grad


cdef double common_rows(const floating* xb, Py_ssize_t N, Py_ssize_t C, const int64_t* tb, long long ignore_index,
                        bint is_nll, floating* gb, double g_scale, int threads, bint* refused) except? -1.0:
    """:func:`common_case`'s kernel call with unit weights: the summed row losses. ``refused``:
    set when nll's forward met a target outside [0, C) or equal to ``ignore_index`` (the sum is
    then meaningless)."""
    cdef double small[SMALL_SUM]
    cdef double* partial = small
    cdef FlGuard guard
    cdef cnp.npy_intp n_rows = N
    cdef Py_ssize_t n_refused = 0
    # above SMALL_SUM rows the partials are summed as an ndarray (sum_partials' NumPy sum)
    partials = cnp.PyArray_EMPTY(1, &n_rows, cnp.NPY_FLOAT64, 0) if N > SMALL_SUM else None
    if partials is not None:
        partial = <double*> cnp.PyArray_DATA(<cnp.ndarray>partials)
    fl_guard_init(&guard)
    with nogil:  # both kernels take NULL weights for unit weights
        if is_nll:
            n_refused = nll_run(xb, C, 1, 1, N, C, 1, tb, NULL, ignore_index, NULL, gb, NULL, g_scale, partial,
                                threads, &guard, True)
        else:
            ce_rows_run(xb, C, N, C, tb, NULL, ignore_index, 0.0, 0.0, NULL, gb, NULL, g_scale, partial, threads,
                        &guard)
    guard_raise(&guard)
    refused[0] = n_refused != 0
    return 0.0 if n_refused else partials_sum(partial, N, partials)


cdef inline double mlsm_row(const floating* x, const floating* y, const floating* w, int w_step, Py_ssize_t n,
                            floating* tmp, floating* gx, floating* gy, floating gs) noexcept nogil:
    """One contiguous row of multilabel_soft_margin (w contiguous, or one value when w_step == 0)."""
    if floating is float:
        return fastloss_mlsm_row_f(x, y, w, w_step, n, tmp, gx, gy, gs)
    else:
        return fastloss_mlsm_row_d(x, y, w, w_step, n, tmp, gx, gy, gs)


cdef inline const floating* row_view(const floating* src, Py_ssize_t step, floating* buf, Py_ssize_t n) noexcept nogil:
    """A row of n elements ``step`` apart, contiguous: itself, or gathered into ``buf``."""
    cdef Py_ssize_t c
    if step == 1:
        return src
    for c in range(n):
        buf[c] = src[c * step]
    return buf


def multilabel_soft_margin(const floating[:, :] x, const floating[:, :] y, const floating[:, :] w,
                           double inv_c, floating[::1] out, floating[:, ::1] gx, floating[:, ::1] gy,
                           const floating[::1] go, double g_scale, double[::1] partial, int n_threads):
    """Per row: mean over classes of w * (y softplus(-x) + (1 - y) softplus(x)) (= -(y logsig(x) + (1-y) logsig(-x))).

    Gradients (before grad_output and the reduction scale): w (sigmoid(x) - y) / C for x,
    -w x / C for y. Operands are 2-D strided views (stride 0 where broadcast); ``inv_c`` is 1/C
    with torch's C (input.size(-1)), which need not be the row length when broadcasting.
    Every row goes through the one C row loop (a strided row is gathered first), so a layout
    never changes a value.
    """
    cdef Py_ssize_t R = x.shape[0], C = x.shape[1]
    cdef Py_ssize_t xs0 = es(x.strides[0], sizeof(floating)), xs1 = es(x.strides[1], sizeof(floating))
    cdef Py_ssize_t ys0 = es(y.strides[0], sizeof(floating)), ys1 = es(y.strides[1], sizeof(floating))
    cdef Py_ssize_t ws0 = es(w.strides[0], sizeof(floating)), ws1 = es(w.strides[1], sizeof(floating))
    cdef bint store = out is not None, want_gx = gx is not None, want_gy = gy is not None
    cdef const floating* xb
    cdef const floating* yb
    cdef const floating* wb
    cdef const floating* gob = NULL
    cdef const floating* wr
    cdef double acc, gm
    cdef floating* tmp
    cdef floating* xbuf
    cdef floating* ybuf
    cdef floating* wbuf
    cdef Py_ssize_t r
    cdef int w_step = 0 if ws1 == 0 else 1
    cdef FlGuard guard
    cdef long long poll = fl_poll_mask(C)
    if R == 0 or C == 0:
        return
    fl_guard_init(&guard)
    xb = &x[0, 0]
    yb = &y[0, 0]
    wb = &w[0, 0]
    if go is not None:
        gob = &go[0]
    with nogil, parallel(num_threads=n_threads):
        tmp = <floating*> fl_guard_alloc(&guard, C, sizeof(floating))
        xbuf = <floating*> fl_guard_alloc(&guard, C, sizeof(floating))
        ybuf = <floating*> fl_guard_alloc(&guard, C, sizeof(floating))
        wbuf = <floating*> fl_guard_alloc(&guard, C, sizeof(floating))
        for r in prange(R, schedule='static'):
            if fl_guard_tick(&guard, r, poll):
                continue
            gm = grad_factor(gob, r, g_scale) * inv_c
            # a class-broadcast weight (stride 0) is read as one value, not gathered
            wr = wb + r * ws0 if w_step == 0 else row_view(wb + r * ws0, ws1, wbuf, C)
            acc = mlsm_row(row_view(xb + r * xs0, xs1, xbuf, C), row_view(yb + r * ys0, ys1, ybuf, C), wr, w_step,
                           C, tmp, &gx[r, 0] if want_gx else NULL, &gy[r, 0] if want_gy else NULL, <floating>gm)
            if store:
                out[r] = <floating>(acc * inv_c)
            else:
                partial[r] = acc * inv_c
        free(tmp)
        free(xbuf)
        free(ybuf)
        free(wbuf)
    guard_raise(&guard)
