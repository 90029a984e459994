// Shared pieces of every fastloss CUDA kernel: index type, math in the operand's precision,
// deterministic warp/block reductions, "teams" (a warp or a block working on one row), the
// index-error flag, and the small kernels every family launches (fills, final sums).
//
// Conventions (the Python launcher relies on them):
// * kernel parameters are pointers, long long or double only (no int, float or bool: the
//   launcher passes Python ints as 64-bit and floats as double; the CPU emulation checks it);
// * every entry point is an ``extern "C" __global__`` function whose name ends in _f32 or _f64
//   (the compute type), a thin wrapper around one template;
// * blocks are a whole number of warps (the launch helpers choose 32..1024 threads);
// * sums are taken in double in an order fixed by the launch shape (never by timing: no float
//   atomics), so results are bit-identical from run to run.
#pragma once

typedef long long i64;

// The dynamic shared memory of every kernel (one name for the whole project).
extern __shared__ unsigned char fl_dynamic_smem[];

namespace fl {

constexpr unsigned kFullMask = 0xFFFFFFFFu;

// --- math in the operand's precision (the C names CUDA and the C library share) -----------------

__device__ __forceinline__ float f_exp(float v) { return expf(v); }
__device__ __forceinline__ double f_exp(double v) { return exp(v); }
__device__ __forceinline__ float f_log(float v) { return logf(v); }
__device__ __forceinline__ double f_log(double v) { return log(v); }
__device__ __forceinline__ float f_log1p(float v) { return log1pf(v); }
__device__ __forceinline__ double f_log1p(double v) { return log1p(v); }
__device__ __forceinline__ float f_abs(float v) { return fabsf(v); }
__device__ __forceinline__ double f_abs(double v) { return fabs(v); }
__device__ __forceinline__ float f_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double f_sqrt(double v) { return sqrt(v); }

// A hint that the cache line at ``p`` will be read soon (fetched into L2): for sequential sweeps
// whose every step would otherwise wait for its first read from device memory. No effect on
// results; nothing under the CPU emulation.
__device__ __forceinline__ void prefetch_l2(const void* p) {
#ifndef FASTLOSS_EMULATE
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
#else
    (void)p;
#endif
}

__device__ __forceinline__ double inf_d() { return __longlong_as_double(0x7ff0000000000000LL); }
__device__ __forceinline__ double nan_d() { return __longlong_as_double(0x7ff8000000000000LL); }

template <typename T>
__device__ __forceinline__ T inf_of() {
    return (T)inf_d();
}

// NaN-propagating maximum, the same whichever order the operands come in (so a butterfly
// reduction leaves every lane with the same value; a signed-zero tie is settled by the
// broadcast that follows it).
template <typename T>
__device__ __forceinline__ T max_nan(T a, T b) {
    return (a > b || a != a) ? a : b;
}

template <typename T>
__device__ __forceinline__ T min_nan(T a, T b) {
    return (a < b || a != a) ? a : b;
}

__device__ __forceinline__ i64 imin(i64 a, i64 b) { return a < b ? a : b; }

// q = a / b, r = a % b for a >= 0, b > 0: in 32 bits when both fit (a 64-bit division is a
// subroutine call on the GPU)
__device__ __forceinline__ void divmod(i64 a, i64 b, i64& q, i64& r) {
    if (((unsigned long long)a | (unsigned long long)b) <= 0xFFFFFFFFull) {
        unsigned int q32 = (unsigned int)a / (unsigned int)b;
        q = q32;
        r = a - (i64)q32 * b;
    } else {
        q = a / b;
        r = a - q * b;
    }
}
__device__ __forceinline__ i64 imax(i64 a, i64 b) { return a > b ? a : b; }

// --- reductions ----------------------------------------------------------------------------------

// Sum over the 32 lanes, the result in every lane (xor butterfly: lane l and lane l ^ k add the
// same two values, so all lanes end up with bit-identical sums).
__device__ __forceinline__ double warp_sum(double v) {
    for (int k = 16; k > 0; k >>= 1)
        v += __shfl_xor_sync(kFullMask, v, k);
    return v;
}

__device__ __forceinline__ i64 warp_sum_i(i64 v) {
    for (int k = 16; k > 0; k >>= 1)
        v += __shfl_xor_sync(kFullMask, v, k);
    return v;
}

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
    for (int k = 16; k > 0; k >>= 1)
        v = max_nan(v, __shfl_xor_sync(kFullMask, v, k));
    return __shfl_sync(kFullMask, v, 0);
}

template <typename T>
__device__ __forceinline__ T warp_min(T v) {
    for (int k = 16; k > 0; k >>= 1)
        v = min_nan(v, __shfl_xor_sync(kFullMask, v, k));
    return __shfl_sync(kFullMask, v, 0);
}

__device__ __forceinline__ i64 warp_min_i(i64 v) {
    for (int k = 16; k > 0; k >>= 1) {
        i64 o = __shfl_xor_sync(kFullMask, v, k);
        v = o < v ? o : v;
    }
    return v;
}

// Block-wide reductions: every thread of the block calls them (at the same place) and gets the
// result. The leading barrier keeps a previous call's readers from seeing this call's writes.
__device__ __forceinline__ double block_sum(double v) {
    __shared__ double part[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0)
        part[warp] = v;
    __syncthreads();
    return warp_sum(lane < n_warps ? part[lane] : 0.0);
}

__device__ __forceinline__ i64 block_sum_i(i64 v) {
    __shared__ i64 part_i[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    v = warp_sum_i(v);
    __syncthreads();
    if (lane == 0)
        part_i[warp] = v;
    __syncthreads();
    return warp_sum_i(lane < n_warps ? part_i[lane] : 0);
}

template <typename T>
__device__ __forceinline__ T block_max(T v) {
    __shared__ double part_m[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0)
        part_m[warp] = (double)v;
    __syncthreads();
    return warp_max(lane < n_warps ? (T)part_m[lane] : v);
}

template <typename T>
__device__ __forceinline__ T block_min(T v) {
    __shared__ double part_n[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    v = warp_min(v);
    __syncthreads();
    if (lane == 0)
        part_n[warp] = (double)v;
    __syncthreads();
    return warp_min(lane < n_warps ? (T)part_n[lane] : v);
}

__device__ __forceinline__ i64 block_min_i(i64 v) {
    __shared__ i64 part_mi[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    v = warp_min_i(v);
    __syncthreads();
    if (lane == 0)
        part_mi[warp] = v;
    __syncthreads();
    return warp_min_i(lane < n_warps ? part_mi[lane] : v);
}

// --- teams: the threads that share one row -------------------------------------------------------

// One warp per row; a block holds blockDim.x / 32 rows. Never uses __syncthreads (warps of a
// block go their own way, and a warp without a row simply returns).
struct WarpTeam {
    __device__ __forceinline__ static i64 row() { return (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); }
    __device__ __forceinline__ static int rank() { return threadIdx.x & 31; }
    __device__ __forceinline__ static int size() { return 32; }
    __device__ __forceinline__ static double sum(double v) { return warp_sum(v); }
    __device__ __forceinline__ static i64 sum_i(i64 v) { return warp_sum_i(v); }
    template <typename T>
    __device__ __forceinline__ static T max(T v) { return warp_max(v); }
    template <typename T>
    __device__ __forceinline__ static T min(T v) { return warp_min(v); }
    __device__ __forceinline__ static i64 min_i(i64 v) { return warp_min_i(v); }
    __device__ __forceinline__ static void sync() { __syncwarp(); }
};

// The whole block per row (long rows).
struct BlockTeam {
    __device__ __forceinline__ static i64 row() { return (i64)blockIdx.x; }
    __device__ __forceinline__ static int rank() { return threadIdx.x; }
    __device__ __forceinline__ static int size() { return blockDim.x; }
    __device__ __forceinline__ static double sum(double v) { return block_sum(v); }
    __device__ __forceinline__ static i64 sum_i(i64 v) { return block_sum_i(v); }
    template <typename T>
    __device__ __forceinline__ static T max(T v) { return block_max(v); }
    template <typename T>
    __device__ __forceinline__ static T min(T v) { return block_min(v); }
    __device__ __forceinline__ static i64 min_i(i64 v) { return block_min_i(v); }
    __device__ __forceinline__ static void sync() { __syncthreads(); }
};

// --- a team's pass over a row ---------------------------------------------------------------------

// A team's pass over a row of n: the member of rank r takes columns r, r + size, ... in that order,
// calling use(c, load(c)) for each. The loads of a batch of columns (16 bytes of them per thread)
// are issued before any of them is used: one load in flight per thread leaves the memory's latency
// uncovered. The order of the uses is the unbatched loop's, so are the sums.
template <typename V>
__host__ __device__ constexpr int load_batch() {
    return 16 / (int)sizeof(V);
}

template <typename Team, typename Load, typename Use>
__device__ __forceinline__ void team_row_batched(i64 n, Load load, Use use) {
    using V = decltype(load(i64(0)));
    constexpr int B = load_batch<V>();
    const i64 step = Team::size();
    i64 c = Team::rank();
    for (; c + (B - 1) * step < n; c += B * step) {
        V v[B];
#pragma unroll
        for (int u = 0; u < B; u++)
            v[u] = load(c + u * step);
#pragma unroll
        for (int u = 0; u < B; u++)
            use(c + u * step, v[u]);
    }
    for (; c < n; c += step)
        use(c, load(c));
}

// --- online log-sum-exp ----------------------------------------------------------------------------

// sum_c exp(x_c - m) with m the running maximum, in one pass: the state of one thread, merged
// across a team. Mirrors the CPU kernels' two-pass form: a +inf logit makes the sum NaN (exp(inf
// - inf)), a NaN logit makes it NaN, -inf logits add nothing.
template <typename T>
struct OnlineLse {
    T m;
    double s;

    __device__ __forceinline__ void init() {
        m = -inf_of<T>();
        s = 0.0;
    }

    __device__ __forceinline__ void add(T x) {
        if (x > m) {
            // the new maximum's own term exp(x - x): 1, or NaN for x = +inf (as exp(inf - inf))
            s = s * (double)f_exp((T)(m - x)) + ((double)(x - x) + 1.0);
            m = x;
        } else if (x != -inf_of<T>()) {
            s += (double)f_exp((T)(x - m));
        }
    }

    // combine with another state (m2, s2)
    __device__ __forceinline__ void merge(T m2, double s2) {
        T mm = max_nan(m, m2);
        if (mm == -inf_of<T>()) {
            s = s + s2;
        } else {
            double a = m == -inf_of<T>() ? 0.0 : s * (double)f_exp((T)(m - mm));
            double b = m2 == -inf_of<T>() ? 0.0 : s2 * (double)f_exp((T)(m2 - mm));
            s = a + b;
        }
        m = mm;
    }

    template <typename Team>
    __device__ __forceinline__ void reduce() {
        T mm = Team::max(m);
        // every thread rescales to the team maximum, then one sum
        double mine = (m == -inf_of<T>() || mm == -inf_of<T>()) ? s : s * (double)f_exp((T)(m - mm));
        s = Team::sum(mine);
        m = mm;
    }
};

// --- the index-error flag --------------------------------------------------------------------------

// ``flag`` holds the smallest flat position of an index out of range (it starts at the largest
// i64): the Python layer reads it after the launch and names the entry.
__device__ __forceinline__ void report_bad_index(i64* flag, i64 position) {
    atomicMin(flag, position);
}

// --- small kernels every family uses ---------------------------------------------------------------

// The deterministic second stage of a reduction: out[0] = sum(part[0..n)) and, when bad is not
// NULL, out[1] = sum(bad[0..n)). One block; every thread sums a fixed stride, then block_sum.
__device__ __forceinline__ void finish_sums(const double* part, const double* bad, i64 n, double* out) {
    double a = 0.0, b = 0.0;
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) {
        a += part[i];
        if (bad != nullptr)
            b += bad[i];
    }
    a = block_sum(a);
    b = block_sum(b);
    if (threadIdx.x == 0) {
        out[0] = a;
        if (bad != nullptr)
            out[1] = b;
    }
}

template <typename T>
__device__ __forceinline__ void fill(T* p, i64 n, double value) {
    const T v = (T)value;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        p[i] = v;
}

// sum of a strided vector in double (one block): e.g. the total class weight
template <typename T>
__device__ __forceinline__ void vector_sum(const T* v, i64 n, i64 stride, double* out) {
    double a = 0.0;
    for (i64 i = threadIdx.x; i < n; i += blockDim.x)
        a += (double)v[i * stride];
    a = block_sum(a);
    if (threadIdx.x == 0)
        out[0] = a;
}

}  // namespace fl

extern "C" __global__ void fl_finish_sums(const double* part, const double* bad, i64 n, double* out) {
    fl::finish_sums(part, bad, n, out);
}

extern "C" __global__ void fl_fill_f32(float* p, i64 n, double value) { fl::fill<float>(p, n, value); }
extern "C" __global__ void fl_fill_f64(double* p, i64 n, double value) { fl::fill<double>(p, n, value); }

extern "C" __global__ void fl_vector_sum_f32(const float* v, i64 n, i64 stride, double* out) {
    fl::vector_sum<float>(v, n, stride, out);
}
extern "C" __global__ void fl_vector_sum_f64(const double* v, i64 n, i64 stride, double* out) {
    fl::vector_sum<double>(v, n, stride, out);
}
