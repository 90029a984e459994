/* vecmath.h: exp, log and log1p for double and float that GCC auto-vectorises (checked with
 * GCC 12 at the package's flags, baseline x86-64/SSE2 and -mavx2: tests/test_vecmath.py).
 *
 * Why: the kernels are built with -O3 -fno-math-errno but without -ffast-math, so the compiler
 * never substitutes glibc's libmvec, and a scalar libm call in a loop stops the loop from being
 * vectorised. These functions are branch-free straight-line code (special cases are selects or
 * additions evaluated on every lane), use only operations that SSE2 has in vector form (add/mul/
 * div, compares, integer add/and/or/logical shifts on the same lane width) and never convert
 * between doubles and 64-bit integers (SSE2 has no such vector instruction): integers are moved
 * in and out of doubles with the "magic number" trick (adding 1.5 * 2^52 puts an integer in the
 * low mantissa bits).
 *
 * IEEE semantics are those of libm, without fast-math shortcuts: a NaN input gives NaN;
 * exp(+inf) = inf, exp(-inf) = +0, overflow to inf, gradual underflow to subnormals and 0;
 * log(+-0) = -inf, log(x < 0) = NaN, log(inf) = inf, subnormal inputs exact;
 * log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(inf) = inf, log1p(x) = x for |x| < 2^-54
 * (so -0.0 stays -0.0). No floating-point exception flags are promised.
 *
 * Methods (the code is written for this file; the published ideas and constants are cited):
 *  - fl_exp: fdlibm's e_exp.c (Sun Microsystems, 1993) - Cody-Waite reduction
 *    x = k ln2 + r, |r| <= ln2/2, with ln2 split in a 32-bit head and a tail, and the Remez
 *    rational form exp(r) = 1 + r + r c(r) / (2 - c(r)), c(r) = r - r^2 P(r^2) (P1..P5 are
 *    fdlibm's coefficients; error < 2^-59 on the reduced range). The scaling by 2^k is split in
 *    two exactly representable powers so overflow and subnormal results round once.
 *  - fl_log / fl_log1p: fdlibm's e_log.c / s_log1p.c in the branch-free arrangement musl uses:
 *    x = 2^k (1 + f) with sqrt(2)/2 <= 1 + f < sqrt(2), s = f / (2 + f),
 *    log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), R the Remez polynomial Lg1..Lg7 of fdlibm,
 *    k ln2 added as head + tail. log1p rounds u = 1 + x and adds the rounding error back as
 *    c = (x - (u - 1)) / u (u - 1 is exact for every u that matters, so c is too).
 *  - fl_log_unit / fl_log1m_unit (binary_cross_entropy's log(p) and log1p(-p)): one pair computed
 *    from a = min(p, 1 - p), whose two logs need no correction term (see fl_vm_log_pair).
 *  - float versions: the same methods in float arithmetic (four lanes per SSE2 vector instead of
 *    two), with FreeBSD's float coefficients for log (e_logf.c) and a Taylor polynomial for exp;
 *    every float32 input checked: max error 0.94 ulp (exp), 0.84 (log), 0.87 (log1p); with FMA
 *    (the AVX2/AVX-512 variants) 0.95, 0.84 and 0.87.
 */
#ifndef FASTLOSS_VECMATH_H
#define FASTLOSS_VECMATH_H

#include <stdint.h>
#include <string.h>
#include <math.h> /* INFINITY, NAN */

#define FL_VM_INF ((double)INFINITY)
#define FL_VM_NAN ((double)NAN)

#if defined(__GNUC__) || defined(__clang__)
#define FL_VM_INLINE static inline __attribute__((always_inline))
#else
#define FL_VM_INLINE static inline
#endif

/* Polynomials are evaluated by Horner's rule with FL_VM_FMA(a, b, c) = a * b + c: one fused
 * multiply-add where the build targets a CPU that has it (the AVX2 and AVX-512 kernel variants
 * are built with -mfma), else a product and a sum - exactly the operations this file used before
 * FMA (c + a * b and a * b + c are the same IEEE sum), so the baseline build's results are
 * unchanged. The variants with FMA agree with each other bit for bit (the same operations, lane
 * by lane) and differ from the baseline in the last bit of some results; every bound below holds
 * for both (tests/test_vecmath.py runs on the variant the kernels use). Beyond the polynomials, only
 * additions of an exact product are fused (k times the head of ln2, whose bits are few enough):
 * one rounding either way, so the same bits with one instruction fewer. The other reductions and
 * the corrections are written to be exact, or to round once, as they are. */
#if defined(__FMA__)
#define FL_VM_FMA(a, b, c) __builtin_fma((a), (b), (c))
#define FL_VM_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define FL_VM_FMA(a, b, c) ((a) * (b) + (c))
#define FL_VM_FMAF(a, b, c) ((a) * (b) + (c))
#endif

/* ---- bit moves (memcpy is the defined way; compilers turn it into a register move) ---- */
FL_VM_INLINE uint64_t fl_vm_bits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
FL_VM_INLINE double fl_vm_double(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* Adding FL_VM_ROUND to a double of magnitude < 2^51 rounds it to an integer (nearest, ties to
 * even) and leaves that integer, plus 2^51, in the low mantissa bits. */
#define FL_VM_ROUND 6755399441055744.0 /* 0x1.8p52 */

/* 2^k for an integer-valued double k in [-1022, 1023]: the biased exponent k + 1023 is built
 * in the integer bits. bits(k + 1.5*2^52) = 0x4338000000000000 + k; after adding 1023 and
 * shifting left by 52 only the low 12 bits of that survive, which are exactly k + 1023. */
FL_VM_INLINE double fl_vm_pow2i(double k)
{
    uint64_t b = fl_vm_bits(k + FL_VM_ROUND);
    return fl_vm_double((b + 1023u) << 52);
}

/* How the special cases are written, and why. GCC (12) with its default -ftrapping-math only
 * if-converts "c ? a : b" when neither a nor b needs a floating-point operation in the branch:
 * a value computed only for one arm gets sunk into that branch, and a constant arm lets the
 * optimiser fold a whole path (e.g. exp(-1000) -> 0), which moves the real computation into the
 * other branch; either way the FP operations there "could trap", the branch stays, and the loop
 * is not vectorised. So every select below takes x itself, a constant that feeds nothing but the
 * final addition, or bits of x (integer operations cannot trap); all arithmetic runs
 * unconditionally on values that are finite for every input, and the special results are
 * added at the end (see fl_vm_log_special). */

/* |x| <= lim: x; else lim with the sign of x (built from the bits of x, not a constant). NaN: x. */
FL_VM_INLINE double fl_vm_clamp(double x, double lim)
{
    uint64_t b = fl_vm_bits(x);
    double ax = fl_vm_double(b & 0x7fffffffffffffffull);
    double slim = fl_vm_double((b & 0x8000000000000000ull) | fl_vm_bits(lim));
    return ax > lim ? slim : x;
}

/* A finite stand-in in [0.5, 1) made from the bits of x, for inputs the core must not see. */
FL_VM_INLINE double fl_vm_tame(double x)
{
    return fl_vm_double((fl_vm_bits(x) & 0x000fffffffffffffull) | 0x3fe0000000000000ull);
}

/* ln2 as fdlibm splits it: the head has 32 significant bits, so k * head is exact for |k| < 2^20. */
#define FL_VM_LN2_HI 6.93147180369123816490e-01
#define FL_VM_LN2_LO 1.90821492927058770002e-10
#define FL_VM_INV_LN2 1.44269504088896338700e+00

/* ------------------------------------------------------------------------------------ exp */

/* fdlibm e_exp.c polynomial coefficients */
#define FL_VM_P1 1.66666666666666019037e-01
#define FL_VM_P2 -2.77777777770155933842e-03
#define FL_VM_P3 6.61375632143793436117e-05
#define FL_VM_P4 -1.65339022054652515390e-06
#define FL_VM_P5 4.13813679705723846039e-08

FL_VM_INLINE double fl_exp(double x)
{
    /* Clamp where the result is already inf / 0 anyway; NaN fails the test and flows through.
     * |x| <= 1000 keeps |k| <= 1443, so each half of k below is a normal exponent. */
    double xc = fl_vm_clamp(x, 1000.0);
    double k = (xc * FL_VM_INV_LN2 + FL_VM_ROUND) - FL_VM_ROUND;
    double hi = FL_VM_FMA(k, -FL_VM_LN2_HI, xc); /* exact (see FL_VM_FMA) */
    double lo = k * FL_VM_LN2_LO;
    double r = hi - lo;
    double t = r * r;
    double c = r - t * FL_VM_FMA(t, FL_VM_FMA(t, FL_VM_FMA(t, FL_VM_FMA(t, FL_VM_P5, FL_VM_P4), FL_VM_P3), FL_VM_P2),
                                 FL_VM_P1);
    double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi); /* exp(r), in [0.70, 1.42] */
    /* y * 2^k as (y * 2^k1) * 2^k2: the first product is exact (normal), the second rounds
     * once, so subnormal results are correctly rounded from y and overflow gives inf. */
    double k1 = (k * 0.5 + FL_VM_ROUND) - FL_VM_ROUND;
    double k2 = k - k1;
    /* NaN needs no select: it flows through the arithmetic */
    return (y * fl_vm_pow2i(k1)) * fl_vm_pow2i(k2);
}

/* exp(x) for x <= 0 (NaN gives NaN): softplus's exp(-|z|). fl_exp bit for bit on that range,
 * with one scaling instead of two: k lies in [-1443, 0], so y * 2^(k + 600) is normal (exact)
 * and the product by 2^-600 rounds once, as fl_exp's second product does. */
FL_VM_INLINE double fl_exp_neg(double x)
{
    double xc = fl_vm_clamp(x, 1000.0); /* (a select against a constant arm would not vectorise) */
    double k = (xc * FL_VM_INV_LN2 + FL_VM_ROUND) - FL_VM_ROUND;
    double hi = FL_VM_FMA(k, -FL_VM_LN2_HI, xc); /* exact (see FL_VM_FMA) */
    double lo = k * FL_VM_LN2_LO;
    double r = hi - lo;
    double t = r * r;
    double c = r - t * FL_VM_FMA(t, FL_VM_FMA(t, FL_VM_FMA(t, FL_VM_FMA(t, FL_VM_P5, FL_VM_P4), FL_VM_P3), FL_VM_P2),
                                 FL_VM_P1);
    double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    return (y * fl_vm_pow2i(k + 600.0)) * fl_vm_double(0x1a70000000000000ull); /* 2^-600 */
}

/* ------------------------------------------------------------------------------- log core */

/* fdlibm e_log.c Remez coefficients: R(z) ~ log(1+f) - f + f^2/2 - s (f^2/2), z = s^2 */
#define FL_VM_LG1 6.666666666666735130e-01
#define FL_VM_LG2 3.999999999940941908e-01
#define FL_VM_LG3 2.857142874366239149e-01
#define FL_VM_LG4 2.222219843214978396e-01
#define FL_VM_LG5 1.818357216161805012e-01
#define FL_VM_LG6 1.531383769920937332e-01
#define FL_VM_LG7 1.479819860511658591e-01

/* Split a positive normal double x = 2^k * m with sqrt(2)/2 <= m < sqrt(2); returns f = m - 1
 * and stores k (as a double). Shifting the bits by 0x3ff00000 - 0x3fe6a09e in the high word
 * moves the exponent boundary from 1 to sqrt(2)/2 (fdlibm's trick, here on 64 bits). */
FL_VM_INLINE double fl_vm_split(double x, double *k)
{
    uint64_t ix = fl_vm_bits(x) + (0x3ff0000000000000ull - 0x3fe6a09e00000000ull);
    /* biased exponent e < 2048 to a double without an int64 conversion: 2^52 + e is exact */
    *k = fl_vm_double(0x4330000000000000ull | (ix >> 52)) - (4503599627370496.0 + 1023.0);
    return fl_vm_double((ix & 0x000fffffffffffffull) + 0x3fe6a09e00000000ull) - 1.0;
}

/* log(1 + f) - f + f^2/2 split as fdlibm: returns s (hfsq + R) - hfsq, to which f is added last */
FL_VM_INLINE double fl_vm_log_tail(double f, double hfsq)
{
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double t1 = w * FL_VM_FMA(w, FL_VM_FMA(w, FL_VM_LG6, FL_VM_LG4), FL_VM_LG2);
    double t2 = z * FL_VM_FMA(w, FL_VM_FMA(w, FL_VM_FMA(w, FL_VM_LG7, FL_VM_LG5), FL_VM_LG3), FL_VM_LG1);
    return s * (hfsq + (t2 + t1));
}

/* log(2^k (1 + f)) for f in [sqrt(2)/2 - 1, sqrt(2) - 1] and an integer-valued k, in fdlibm's order
 * of additions (k ln2 as head + tail, the head last) */
FL_VM_INLINE double fl_vm_log_core(double f, double k)
{
    double hfsq = 0.5 * f * f;
    return FL_VM_FMA(k, FL_VM_LN2_HI, fl_vm_log_tail(f, hfsq) + k * FL_VM_LN2_LO - hfsq + f);
}

/* The special results of log-like functions, as an addend: -0.0 for ordinary inputs (x + -0.0
 * is x for every x, -0.0 included), else the IEEE result, which the finite core value added
 * to it cannot change. Only selects between constants and x: GCC if-converts those even with
 * -ftrapping-math, whereas "cond ? special : computed" gets the computation sunk into a branch
 * that it then refuses to speculate, and the loop stays scalar. */
FL_VM_INLINE double fl_vm_log_special(double x, double pole)
{
    double s = x == pole ? -FL_VM_INF : -0.0;
    s = x < pole ? FL_VM_NAN : s;
    /* +inf and NaN (the unordered compare is true for both) give x itself */
    return !(x <= 1.7976931348623157e308) ? x : s;
}

FL_VM_INLINE double fl_log(double x)
{
    /* The core gives a finite value for every input (0, negatives, inf and NaN included: it only
     * takes bits apart), which the special addend then overrides. Subnormals (and zeros) are
     * scaled by 2^54 first (exact) and 54 is taken back from k; the scale is chosen with integer
     * arithmetic on the exponent field, not with a select, because a select here makes GCC
     * duplicate the rest of the computation into two branches (see above). */
    uint64_t bx = fl_vm_bits(x);
    uint64_t nz = (((bx >> 52) & 0x7ffu) + 0x7ffu) >> 11; /* 0 iff the exponent field is 0 */
    uint64_t mz = nz - 1u;                                 /* all ones iff subnormal or zero */
    double xs = x * fl_vm_double(0x3ff0000000000000ull + (mz & (54ull << 52)));
    double k;
    double f = fl_vm_split(xs, &k);
    k = k - (fl_vm_double(0x4330000000000000ull | (mz & 54u)) - 4503599627370496.0);
    return fl_vm_log_core(f, k) + fl_vm_log_special(x, 0.0);
}

/* log(2^k (1 + f)) + c for f in the core's domain, with a small correction c added before the
 * head of k ln2: the core shared by the log1p family (fl_log has no c and keeps its own order of
 * additions) */
FL_VM_INLINE double fl_vm_log_core_c(double f, double k, double c)
{
    double hfsq = 0.5 * f * f;
    return FL_VM_FMA(k, FL_VM_LN2_HI, fl_vm_log_tail(f, hfsq) + (k * FL_VM_LN2_LO + c) - hfsq + f);
}

/* log(u) + c for a normal u = fl(1 + x) and the correction c = (rounding error of u) / u */
FL_VM_INLINE double fl_vm_log1p_core(double u, double c)
{
    double k;
    double f = fl_vm_split(u, &k);
    return fl_vm_log_core_c(f, k, c);
}

FL_VM_INLINE double fl_log1p(double x)
{
    /* -1, inf and beyond would make c below 0/0 or inf/inf: feed the core a finite stand-in */
    double xc = (x > -1.0 && x < FL_VM_INF) ? x : fl_vm_tame(x);
    /* u = fl(1 + x) >= 2^-53 for x > -1, always normal. u - 1 is exact for u < 2^53 (and for
     * u < 0.5, 1 + x itself is exact), so c = ((1 + x) - u) / u carries the rounding error of u;
     * for larger u, c is negligible against log(u). For |x| < 2^-54, u = 1 and the result is
     * c = x exactly. */
    double u = 1.0 + xc;
    double res = fl_vm_log1p_core(u, (xc - (u - 1.0)) / u) + fl_vm_log_special(x, -1.0);
    /* log1p(x) has the sign of x: restoring the sign bit makes log1p(-0.0) = -0.0 */
    return fl_vm_double(fl_vm_bits(res) | (fl_vm_bits(x) & 0x8000000000000000ull));
}

/* log1p(e) for 0 <= e <= 1 (NaN gives NaN): what softplus needs, log1p(exp(-|x|)). On this range
 * the split of 1 + e needs no bit work and the correction no division:
 *  - e <= sqrt(2) - 1: k = 0 and f = e itself (exact), so there is nothing to correct;
 *  - above: u = fl(1 + e) in (sqrt(2), 2], k = 1, f = u/2 - 1 (exact: one rounding of an exact
 *    value, Sterbenz), and the correction c = (e - (u - 1)) / u: the numerator is exact (u - 1 is,
 *    Sterbenz) and at most half an ulp of u, so c is at most 1.42 ulp of the result (2^-53 / sqrt(2)
 *    against a result in [0.347, 0.5), whose ulp is 2^-54); 1/u from a linear minimax guess on
 *    [sqrt(2), 2] (relative error 1.5%) puts c within 0.03 ulp of the result.
 * The switch is decided on h = u/2 - 1 (a value the selects use: see the special cases' rule).
 * Bounds in tests/test_vecmath.py (fl_log1p's: the old form of this function was fl_log1p's core
 * with an exact division; this one saves the split and the division, 0.65x its time per element,
 * AVX-512, single thread). */
FL_VM_INLINE double fl_log1p_unit(double e)
{
    double u = 1.0 + e;
    double h = FL_VM_FMA(u, 0.5, -1.0);
    int far = h > -0.29289321881345248; /* u > sqrt(2) */
    double f = far ? h : e;
    double k = far ? 1.0 : 0.0;
    /* k * (...): c = 0 where f = e (the product is computed on every lane: no select needed) */
    double c = k * ((e - (u - 1.0)) * FL_VM_FMA(u, -0.34827183328498856, 1.1890744165941494));
    return fl_vm_log_core_c(f, k, c);
}

/* log(x) and log1p(-x) for 0 <= x <= 1 (NaN gives NaN): binary_cross_entropy's pair, in about
 * the operations of one fl_log and without a division for log1p's correction. With a = min(x, 1 - x)
 * (exact: 1 - x is exact for x >= 1/2, Sterbenz), the pair is {log(a), log(1 - a)} in some order:
 *  - log(a), a in [0, 1/2]: fl_log's core on a 2^54, which is exact and normal for every a > 0
 *    (subnormals included), so the subnormal scaling is one product and 54 is taken back from k;
 *  - log(1 - a), 1 - a = 2^k (1 + f) with f exact, so no rounding of 1 - a needs correcting:
 *    a <= 1 - sqrt(2)/2: k = 0, f = -a; else k = -1, f = 1 - 2a (exact: 2a in [0.58, 1], Sterbenz).
 *    Both f lie in the core's domain [sqrt(2)/2 - 1, sqrt(2) - 1].
 * x = 0 gives (-inf, 0), x = 1 (0, -inf), x = -0.0 (-inf, +0.0). Bounds in tests/test_vecmath.py.
 * Call both halves on the same x: after inlining the compiler computes the shared work once, and
 * the final selects pick between two values both computed (alone, one half's select would keep a
 * branch in the SSE2 float64 build, since its other arm is computed for that arm only). */
FL_VM_INLINE void fl_vm_log_pair(double x, double *lx, double *l1x)
{
    /* The selects follow the rule above: each arm is a value the condition already used, x itself,
     * or a constant. */
    double t = 1.0 - x;
    double a = t < x ? t : x; /* NaN: x */
    double k1;
    double f1 = fl_vm_split(a * 18014398509481984.0, &k1); /* 2^54 */
    double s1 = a == 0.0 ? -FL_VM_INF : -0.0;              /* the pole, as fl_vm_log_special */
    s1 = a == a ? s1 : a;
    double la = fl_vm_log_core(f1, k1 - 54.0) + s1;
    double g = 1.0 - (a + a);
    int far = g < 0.41421356237309503; /* a > 1 - sqrt(2)/2, as 1 - 2a < sqrt(2) - 1 */
    double f2 = far ? g : -a;
    double k2 = far ? -1.0 : 0.0;
    double l1a = fl_vm_log_core(f2, k2);
    int swapped = t < x;
    *lx = swapped ? l1a : la;
    *l1x = swapped ? la : l1a;
}

FL_VM_INLINE double fl_log_unit(double x) { double lx, l1x; fl_vm_log_pair(x, &lx, &l1x); return lx; }
FL_VM_INLINE double fl_log1m_unit(double x) { double lx, l1x; fl_vm_log_pair(x, &lx, &l1x); return l1x; }

/* ------------------------------------------------------------------------ float versions */
/* The same methods in float arithmetic on 32-bit lanes (twice as many per vector as double),
 * with float-sized polynomials: exp a degree-7 Taylor polynomial, log/log1p the Remez
 * coefficients of FreeBSD's e_logf.c / s_log1pf.c (the float translations of fdlibm).
 * Measured over every float32: <= 0.94 ulp (exp), 0.84 (log), 0.87 (log1p). */

FL_VM_INLINE uint32_t fl_vm_bitsf(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
FL_VM_INLINE float fl_vm_float(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }

#define FL_VM_ROUNDF 12582912.0f /* 0x1.8p23: adding it rounds |x| < 2^22 to an integer */
#define FL_VM_INFF ((float)INFINITY)
#define FL_VM_NANF ((float)NAN)
/* ln2 = 0.693359375 (9 significant bits: k * head is exact for |k| < 2^15) - 2.1219444e-4 */
#define FL_VM_LN2F_HI 6.93359375e-01f
#define FL_VM_LN2F_LO -2.12194440e-04f
/* FreeBSD e_logf.c split of ln2 for the log side (head with 16 bits) */
#define FL_VM_LN2F_HI_LOG 6.9313812256e-01f
#define FL_VM_LN2F_LO_LOG 9.0580006145e-06f

/* 2^k for an integer-valued float k in [-126, 127] (see fl_vm_pow2i; 9 bits survive the shift) */
FL_VM_INLINE float fl_vm_pow2if(float k)
{
    uint32_t b = fl_vm_bitsf(k + FL_VM_ROUNDF);
    return fl_vm_float((b + 127u) << 23);
}

FL_VM_INLINE float fl_vm_clampf(float x, float lim)
{
    uint32_t b = fl_vm_bitsf(x);
    float ax = fl_vm_float(b & 0x7fffffffu);
    float slim = fl_vm_float((b & 0x80000000u) | fl_vm_bitsf(lim));
    return ax > lim ? slim : x;
}

FL_VM_INLINE float fl_vm_tamef(float x)
{
    return fl_vm_float((fl_vm_bitsf(x) & 0x007fffffu) | 0x3f000000u);
}

FL_VM_INLINE float fl_expf(float x)
{
    /* |x| <= 110 keeps |k| <= 159, so each half of k is a normal exponent */
    float xc = fl_vm_clampf(x, 110.0f);
    float k = (xc * 1.44269502e+00f + FL_VM_ROUNDF) - FL_VM_ROUNDF;
    float hi = FL_VM_FMAF(k, -FL_VM_LN2F_HI, xc); /* exact (see FL_VM_FMA) */
    float lo = k * FL_VM_LN2F_LO;
    float r = hi - lo;
    /* exp(r) = 1 + (hi - (lo - q)), q = r^2 (1/2 + r/6 + ... + r^5/5040): adding the parts in
     * this order keeps the rounding of r out of the result (<= 0.94 ulp instead of 1.2). */
    float q = r * r * FL_VM_FMAF(r, FL_VM_FMAF(r, FL_VM_FMAF(r, FL_VM_FMAF(r, FL_VM_FMAF(r, 1.9841270e-4f,
              1.3888889e-3f), 8.3333338e-3f), 4.1666668e-2f), 1.6666667e-1f), 0.5f);
    float y = 1.0f + (hi - (lo - q));
    float k1 = (k * 0.5f + FL_VM_ROUNDF) - FL_VM_ROUNDF;
    float k2 = k - k1;
    return (y * fl_vm_pow2if(k1)) * fl_vm_pow2if(k2);
}

/* exp(x) for x <= 0 (NaN gives NaN): softplus's exp(-|z|). fl_expf bit for bit on that range,
 * with one scaling instead of two: k lies in [-159, 0], so y * 2^(k + 64) is normal (exact) and
 * the product by 2^-64 rounds once, as fl_expf's second product does. */
FL_VM_INLINE float fl_expf_neg(float x)
{
    float xc = fl_vm_clampf(x, 110.0f); /* (a select against a constant arm would not vectorise) */
    float k = (xc * 1.44269502e+00f + FL_VM_ROUNDF) - FL_VM_ROUNDF;
    float hi = FL_VM_FMAF(k, -FL_VM_LN2F_HI, xc); /* exact (see FL_VM_FMA) */
    float lo = k * FL_VM_LN2F_LO;
    float r = hi - lo;
    float q = r * r * FL_VM_FMAF(r, FL_VM_FMAF(r, FL_VM_FMAF(r, FL_VM_FMAF(r, FL_VM_FMAF(r, 1.9841270e-4f,
              1.3888889e-3f), 8.3333338e-3f), 4.1666668e-2f), 1.6666667e-1f), 0.5f);
    float y = 1.0f + (hi - (lo - q));
    return (y * fl_vm_pow2if(k + 64.0f)) * 5.42101086e-20f; /* 2^-64 */
}

FL_VM_INLINE float fl_vm_splitf(float x, float *k)
{
    uint32_t ix = fl_vm_bitsf(x) + (0x3f800000u - 0x3f3504f3u);
    *k = fl_vm_float(0x4b000000u | (ix >> 23)) - (8388608.0f + 127.0f);
    return fl_vm_float((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
}

/* FreeBSD e_logf.c: Lg1..Lg4, |R(z) - (log(1+f) - f + f^2/2 - s f^2/2)| < 2^-34.24 */
FL_VM_INLINE float fl_vm_log_tailf(float f, float hfsq)
{
    float s = f / (2.0f + f);
    float z = s * s;
    float w = z * z;
    float t1 = w * FL_VM_FMAF(w, 0.24279078841f, 0.40000972152f);
    float t2 = z * FL_VM_FMAF(w, 0.28498786688f, 0.66666662693f);
    return s * (hfsq + (t2 + t1));
}

/* fl_vm_log_core in float */
FL_VM_INLINE float fl_vm_log_coref(float f, float k)
{
    float hfsq = 0.5f * f * f;
    return FL_VM_FMAF(k, FL_VM_LN2F_HI_LOG, fl_vm_log_tailf(f, hfsq) + k * FL_VM_LN2F_LO_LOG - hfsq + f);
}

FL_VM_INLINE float fl_vm_log_specialf(float x, float pole)
{
    float s = x == pole ? -FL_VM_INFF : -0.0f;
    s = x < pole ? FL_VM_NANF : s;
    return !(x <= 3.40282347e+38f) ? x : s;
}

FL_VM_INLINE float fl_logf(float x)
{
    /* as fl_log: subnormals and zeros scaled by 2^25, chosen with integer arithmetic */
    uint32_t bx = fl_vm_bitsf(x);
    uint32_t nz = (((bx >> 23) & 0xffu) + 0xffu) >> 8; /* 0 iff the exponent field is 0 */
    uint32_t mz = nz - 1u;
    float xs = x * fl_vm_float(0x3f800000u + (mz & (25u << 23)));
    float k;
    float f = fl_vm_splitf(xs, &k);
    k = k - (fl_vm_float(0x4b000000u | (mz & 25u)) - 8388608.0f);
    return fl_vm_log_coref(f, k) + fl_vm_log_specialf(x, 0.0f);
}

/* fl_vm_log_core_c and fl_vm_log1p_core in float */
FL_VM_INLINE float fl_vm_log_core_cf(float f, float k, float c)
{
    float hfsq = 0.5f * f * f;
    return FL_VM_FMAF(k, FL_VM_LN2F_HI_LOG, fl_vm_log_tailf(f, hfsq) + (k * FL_VM_LN2F_LO_LOG + c) - hfsq + f);
}

FL_VM_INLINE float fl_vm_log1p_coref(float u, float c)
{
    float k;
    float f = fl_vm_splitf(u, &k);
    return fl_vm_log_core_cf(f, k, c);
}

FL_VM_INLINE float fl_log1pf(float x)
{
    /* as fl_log1p: u - 1 is exact for u < 2^24; beyond, c is negligible against log(u) */
    float xc = (x > -1.0f && x < FL_VM_INFF) ? x : fl_vm_tamef(x);
    float u = 1.0f + xc;
    float res = fl_vm_log1p_coref(u, (xc - (u - 1.0f)) / u) + fl_vm_log_specialf(x, -1.0f);
    return fl_vm_float(fl_vm_bitsf(res) | (fl_vm_bitsf(x) & 0x80000000u));
}

/* fl_log1p_unit in float */
FL_VM_INLINE float fl_log1pf_unit(float e)
{
    float u = 1.0f + e;
    float h = FL_VM_FMAF(u, 0.5f, -1.0f);
    int far = h > -0.29289321881f;
    float f = far ? h : e;
    float k = far ? 1.0f : 0.0f;
    float c = k * ((e - (u - 1.0f)) * FL_VM_FMAF(u, -0.348271833f, 1.18907442f));
    return fl_vm_log_core_cf(f, k, c);
}

/* fl_vm_log_pair in float (a 2^24 is exact and normal for every float a in (0, 1/2]) */
FL_VM_INLINE void fl_vm_log_pairf(float x, float *lx, float *l1x)
{
    float t = 1.0f - x;
    float a = t < x ? t : x;
    float k1;
    float f1 = fl_vm_splitf(a * 16777216.0f, &k1); /* 2^24 */
    float s1 = a == 0.0f ? -FL_VM_INFF : -0.0f;
    s1 = a == a ? s1 : a;
    float la = fl_vm_log_coref(f1, k1 - 24.0f) + s1;
    float g = 1.0f - (a + a);
    int far = g < 0.41421356f;
    float f2 = far ? g : -a;
    float k2 = far ? -1.0f : 0.0f;
    float l1a = fl_vm_log_coref(f2, k2);
    int swapped = t < x;
    *lx = swapped ? l1a : la;
    *l1x = swapped ? la : l1a;
}

FL_VM_INLINE float fl_logf_unit(float x) { float lx, l1x; fl_vm_log_pairf(x, &lx, &l1x); return lx; }
FL_VM_INLINE float fl_log1mf_unit(float x) { float lx, l1x; fl_vm_log_pairf(x, &lx, &l1x); return l1x; }

/* log1p(e) for 0 <= e <= 1 (NaN gives NaN) in fewer operations than fl_log1pf_unit, for
 * softplus's log1p(exp(-|z|)) in the float32 losses: no exponent split, one division.
 * log1p(e) = 2 atanh(s) = 2 s + s^3 R(s^2), s = e / (2 + e) in [0, 1/3]; R of degree 3 fitted for
 * this file (Lawson-iterated weighted least squares, relative error 2^-27.7). The rounding of
 * d = 2 + e (up to 2^-24 relative, which s and the result would inherit) is exactly
 * err = e - (d - 2) (Sterbenz: d - 2 is exact), and is taken back to first order:
 * d(result)/d(d) = -2 s / d = -s (1 - s) (2 / d = 1 - s). Every float32 in [0, 1] checked: <= 1.2 ulp
 * (fl_log1pf_unit: <= 0.9). */
FL_VM_INLINE float fl_log1pf_unit_fast(float e)
{
    float d = 2.0f + e;
    float s = e / d;
    float z = s * s;
    float r = FL_VM_FMAF(z, FL_VM_FMAF(z, FL_VM_FMAF(z, 2.801125944e-01f, 2.800194323e-01f), 4.002151787e-01f),
                         6.666641831e-01f);
    float err = e - (d - 2.0f);
    return (s + s) + ((s * z) * r - (s * err) * (1.0f - s));
}

#endif /* FASTLOSS_VECMATH_H */
