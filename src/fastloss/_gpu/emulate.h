// fastloss's CUDA emulation shim: a testing aid, not a backend.
//
// It lets g++ compile the project's unchanged .cu sources for the CPU and run their kernels with
// CUDA's execution model, so the GPU backend's code paths run and are tested on machines without
// a GPU (FASTLOSS_GPU=emulate, see fastloss/_gpu/_emulate.py). Force-included (g++ -include)
// before the kernel sources, it provides:
//
// * the CUDA keywords (__global__, __device__, __shared__, __launch_bounds__, ...) and builtins
//   (threadIdx, blockIdx, blockDim, gridDim, warpSize);
// * every thread of a block as a fiber (a small stack and a context switch), all of a block's
//   fibers run by one OS thread, blocks spread over a few OS threads (global-memory races between
//   blocks are real races); the scheduler picks the next fiber at random at every switch, so
//   code that reads another thread's shared memory without a barrier sees stale data;
// * __syncthreads as a real block barrier (threads that have exited no longer count, as on the
//   hardware); threads waiting at different __syncthreads, or at a barrier while others wait in a
//   warp operation, are reported as a divergent barrier (an error, not a hang);
// * warp shuffles (__shfl_sync, __shfl_down_sync, __shfl_up_sync, __shfl_xor_sync), __syncwarp
//   and __ballot_sync exchanging values among the warp's 32 lanes (every lane in the mask must
//   take part; a lane that has exited or waits elsewhere is reported);
// * __shared__ variables (one copy per block: thread_local to the OS thread running the block)
//   and the dynamic shared memory, which the project's kernels name ``fl_dynamic_smem`` (one name
//   for the whole project): a per-block buffer filled with 0xFF bytes (NaN for floats) before
//   every block, so a read of shared memory nobody wrote shows up; under AddressSanitizer the
//   bytes past the launch's dynamic size are poisoned;
// * atomics (atomicAdd, atomicMin, atomicMax, atomicCAS, atomicExch) and __threadfence over the
//   compiler's __atomic builtins, the bit-cast intrinsics (__double_as_longlong, ...), __expf.
//
// Kernel arguments follow the project's convention: pointers, long long and double only. The
// launcher (fl_emu::launch, one generated entry per kernel) checks the kinds the caller passes
// ('p', 'q', 'd') against the kernel's signature.
//
// Builds with -fsanitize=address too (the fiber switches are announced to ASan), so a test can
// catch an out-of-bounds read of a kernel.
#pragma once

#ifndef __x86_64__
#error "the fastloss CUDA emulation shim supports x86-64 only"
#endif

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define FL_EMU_ASAN 1
#else
#define FL_EMU_ASAN 0
#endif

#define FASTLOSS_EMULATE 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __shared__ thread_local

// math: the C library's functions (the kernels call expf, exp, log1p, ...: the C names, which
// CUDA also provides)
using std::isnan;
using std::isinf;

struct dim3 {
    unsigned int x, y, z;
};
typedef dim3 uint3;

// The dynamic shared memory of the block an OS thread runs (see fl_dynamic_smem at the end). One
// definition: the shim is compiled into exactly one translation unit per library.
alignas(16) thread_local unsigned char fl_emu_dynamic_shared[232448];  // the most a block has (sm_90)

namespace fl_emu {

enum FiberState { RUNNABLE = 0, AT_BARRIER = 1, AT_WARP = 2, DONE = 3 };

struct Fiber {
    void* sp = nullptr;          // saved stack pointer while switched out
    char* stack = nullptr;       // lowest usable address
    size_t stack_size = 0;
    int state = RUNNABLE;
    uint3 tid;                   // threadIdx
    int lane = 0, warp = 0;
    const char* site_file = nullptr;  // where it waits (barrier or warp operation)
    int site_line = 0;
    unsigned long long value[2] = {0, 0};  // its deposits in warp exchanges (alternating slots)
    int parity = 0;
    unsigned mask = 0;
};

struct Block;

// the block being run by this OS thread, and its current fiber
inline thread_local Block* tls_block = nullptr;
inline thread_local Fiber* tls_fiber = nullptr;
inline thread_local uint3 tls_block_idx;
inline thread_local dim3 tls_block_dim;
inline thread_local dim3 tls_grid_dim;

extern "C" void fl_emu_switch(void** save_sp, void* load_sp);
extern "C" void fl_emu_fiber_start();

// The context switch: callee-saved registers, MXCSR and the x87 control word on the old stack,
// its stack pointer into *save_sp, then the same in reverse from load_sp. A new fiber's stack is
// laid out as if it had switched out just before fl_emu_fiber_start (see Block::start_fiber).
asm(R"(
    .text
    .p2align 4
    .globl fl_emu_switch
    .hidden fl_emu_switch
    .type fl_emu_switch,@function
fl_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size fl_emu_switch, .-fl_emu_switch

    .p2align 4
    .globl fl_emu_fiber_start
    .hidden fl_emu_fiber_start
    .type fl_emu_fiber_start,@function
fl_emu_fiber_start:
    movq %r12, %rdi
    callq *%rbx
    ud2
    .size fl_emu_fiber_start, .-fl_emu_fiber_start
)");

// A failure of the emulated execution model (divergent barrier, ...): the block is abandoned.
struct Failure {
    std::string message;
};

struct Launch {
    dim3 grid, block;
    size_t shared_bytes;
    void** args;
    const char* kinds;           // the caller's argument kinds, one char per argument
    unsigned long long seed;
    std::string error;           // set on failure
};

const size_t kMaxDynamicShared = sizeof(fl_emu_dynamic_shared);

inline size_t stack_bytes() {
    return FL_EMU_ASAN ? (size_t(1) << 20) : (size_t(256) << 10);
}

// Fiber stacks are mmap'd (touched pages only) with a guard page below, and kept for reuse.
struct StackPool {
    std::mutex lock;
    std::vector<char*> free_stacks;

    char* take() {
        {
            std::lock_guard<std::mutex> g(lock);
            if (!free_stacks.empty()) {
                char* s = free_stacks.back();
                free_stacks.pop_back();
                return s;
            }
        }
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t size = stack_bytes() + page;
        void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (p == MAP_FAILED)
            return nullptr;
        mprotect(p, page, PROT_NONE);  // stack overflow faults instead of corrupting a neighbour
        return (char*)p + page;
    }

    void give(char* s) {
        std::lock_guard<std::mutex> g(lock);
        free_stacks.push_back(s);
    }
};

inline StackPool& stack_pool() {
    static StackPool pool;
    return pool;
}

// xorshift64*: the schedule's random choices
struct Rng {
    unsigned long long s;
    explicit Rng(unsigned long long seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
        if (!s)
            s = 1;
    }
    unsigned long long next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545F4914F6CDD1Dull;
    }
    unsigned below(unsigned n) { return (unsigned)(next() % n); }
};

struct Block {
    std::vector<Fiber> fibers;
    std::vector<int> runnable;   // indices of runnable fibers
    void* scheduler_sp = nullptr;
    int live = 0;                // fibers not yet done
    int at_barrier = 0;
    std::vector<int> warp_waiting;  // per warp: lanes waiting in a warp operation
    std::vector<int> warp_live;     // per warp: lanes not done
    void (*body)(void*) = nullptr;
    void* body_arg = nullptr;
    Rng rng;
    bool failed = false;
    std::string failure;
#if FL_EMU_ASAN
    void* fake_stack = nullptr;
    const void* main_stack_bottom = nullptr;
    size_t main_stack_size = 0;
#endif

    explicit Block(unsigned long long seed) : rng(seed) {}

    static void fiber_main(Block* b);

    void fail(const std::string& why) {
        if (!failed) {
            failed = true;
            failure = why;
        }
    }

    // switch from the current fiber back to the scheduler (``exiting``: never to be resumed)
    void yield_to_scheduler(bool exiting = false) {
        Fiber* f = tls_fiber;
#if FL_EMU_ASAN
        void* fake = nullptr;
        __sanitizer_start_switch_fiber(exiting ? nullptr : &fake, main_stack_bottom, main_stack_size);
#else
        (void)exiting;
#endif
        fl_emu_switch(&f->sp, scheduler_sp);
#if FL_EMU_ASAN
        __sanitizer_finish_switch_fiber(fake, &main_stack_bottom, &main_stack_size);
#endif
    }

    void run_fiber(int i) {
        Fiber* f = &fibers[i];
        tls_fiber = f;
#if FL_EMU_ASAN
        __sanitizer_start_switch_fiber(&fake_stack, f->stack, f->stack_size);
#endif
        fl_emu_switch(&scheduler_sp, f->sp);
#if FL_EMU_ASAN
        __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
        tls_fiber = nullptr;
    }

    void start_fiber(Fiber& f) {
        // the initial frame fl_emu_switch pops: MXCSR + x87 CW, r15..r12, rbx, rbp, return address
        unsigned long long* top = (unsigned long long*)(f.stack + f.stack_size);
        top = (unsigned long long*)((uintptr_t)top & ~(uintptr_t)15);
        top[-1] = (unsigned long long)&fl_emu_fiber_start;  // ret (so that the callee sees rsp % 16 == 8)
        top[-2] = 0;                                           // rbp
        top[-3] = (unsigned long long)&fiber_main;             // rbx: the function
        top[-4] = (unsigned long long)this;                    // r12: its argument
        top[-5] = 0;                                           // r13
        top[-6] = 0;                                           // r14
        top[-7] = 0;                                           // r15
        unsigned int csr[2] = {0x1F80u, 0x037Fu};              // default MXCSR, x87 control word
        std::memcpy(&top[-8], csr, sizeof csr);
        f.sp = &top[-8];
    }

    void release_barrier() {
        // every live thread waits at a barrier: they must all wait at the same one
        const Fiber* first = nullptr;
        for (auto& f : fibers) {
            if (f.state != AT_BARRIER)
                continue;
            if (first == nullptr) {
                first = &f;
            } else if (!same_site(f, *first)) {
                fail("divergent __syncthreads: threads wait at " + site(*first) + " and at " + site(f));
                return;
            }
        }
        for (size_t i = 0; i < fibers.size(); i++)
            if (fibers[i].state == AT_BARRIER) {
                fibers[i].state = RUNNABLE;
                runnable.push_back((int)i);
            }
        at_barrier = 0;
    }

    void check_barrier() {
        if (live > 0 && at_barrier == live)
            release_barrier();
    }

    // run every fiber to completion; false on failure
    bool run(int n_threads) {
        fibers.assign(n_threads, Fiber());
        warp_waiting.assign((n_threads + 31) / 32, 0);
        warp_live.assign((n_threads + 31) / 32, 0);
        runnable.clear();
        dim3 bd = tls_block_dim;
        for (int i = 0; i < n_threads; i++) {
            Fiber& f = fibers[i];
            f.stack = stack_pool().take();
            if (f.stack == nullptr) {
                fail("out of memory for fiber stacks");
                break;
            }
            f.stack_size = stack_bytes();
#if FL_EMU_ASAN
            ASAN_UNPOISON_MEMORY_REGION(f.stack, f.stack_size);  // frames left by a previous fiber
#endif
            f.tid.x = i % bd.x;
            f.tid.y = (i / bd.x) % bd.y;
            f.tid.z = i / (bd.x * bd.y);
            f.lane = i % 32;
            f.warp = i / 32;
            warp_live[f.warp]++;
            start_fiber(f);
            runnable.push_back(i);
        }
        live = failed ? 0 : n_threads;
        at_barrier = 0;
        while (!failed && live > 0) {
            if (runnable.empty()) {
                std::string where;
                for (auto& f : fibers)
                    if (f.state == AT_WARP || f.state == AT_BARRIER) {
                        where = std::string(f.state == AT_WARP ? "a warp operation" : "__syncthreads") + " at " +
                                f.site_file + ":" + std::to_string(f.site_line);
                        break;
                    }
                fail("divergent barrier: no thread can proceed (one waits in " + where +
                     ", others wait elsewhere or have exited)");
                break;
            }
            unsigned k = rng.below((unsigned)runnable.size());
            int i = runnable[k];
            runnable[k] = runnable.back();
            runnable.pop_back();
            run_fiber(i);
        }
        for (auto& f : fibers)
            if (f.stack)
                stack_pool().give(f.stack);
        fibers.clear();
        return !failed;
    }

    // --- called from fibers -------------------------------------------------------------------

    void syncthreads(const char* file, int line) {
        Fiber* f = tls_fiber;
        f->state = AT_BARRIER;
        f->site_file = file;
        f->site_line = line;
        at_barrier++;
        check_barrier();
        yield_to_scheduler();
    }

    void exit_fiber() {
        Fiber* f = tls_fiber;
        f->state = DONE;
        live--;
        warp_live[f->warp]--;
        check_barrier();
        // a warp operation may now have all its remaining lanes
        check_warp(f->warp);
    }

    // lanes of ``warp`` in a warp operation: when every live lane waits, check that they agree
    // (same call site, each lane's mask covering only waiting lanes) and release them
    void check_warp(int warp) {
        if (warp_waiting[warp] == 0 || warp_waiting[warp] != warp_live[warp])
            return;
        int base = warp * 32;
        int end = base + 32 < (int)fibers.size() ? base + 32 : (int)fibers.size();
        unsigned waiting = 0;
        for (int i = base; i < end; i++)
            if (fibers[i].state == AT_WARP)
                waiting |= 1u << (i - base);
        const Fiber* first = nullptr;
        for (int i = base; i < end; i++) {
            const Fiber& f = fibers[i];
            if (f.state != AT_WARP)
                continue;
            if (first == nullptr) {
                first = &f;
            } else if (!same_site(f, *first)) {
                fail("divergent warp operation: lanes at " + site(*first) + " and at " + site(f));
                return;
            }
            if (f.mask & ~waiting) {
                int l = __builtin_ctz(f.mask & ~waiting);
                fail("warp operation at " + site(f) + ": lane " + std::to_string(l) +
                     " is in the mask but has exited or is elsewhere");
                return;
            }
        }
        for (int i = base; i < end; i++)
            if (fibers[i].state == AT_WARP) {
                fibers[i].state = RUNNABLE;
                runnable.push_back(i);
            }
        warp_waiting[warp] = 0;
    }

    static bool same_site(const Fiber& a, const Fiber& b) {
        return a.site_line == b.site_line && (a.site_file == b.site_file || std::strcmp(a.site_file, b.site_file) == 0);
    }

    static std::string site(const Fiber& f) { return std::string(f.site_file) + ":" + std::to_string(f.site_line); }

    // wait until every live lane of the warp has arrived here
    void warp_barrier(unsigned mask, const char* file, int line) {
        Fiber* f = tls_fiber;
        f->state = AT_WARP;
        f->mask = mask;
        f->site_file = file;
        f->site_line = line;
        warp_waiting[f->warp]++;
        check_warp(f->warp);
        // every lane waits (also the last to arrive): the scheduler decides who goes on first
        yield_to_scheduler();
    }

    // exchange: deposit ``v``, wait for the warp, read lane ``src``'s deposit. Deposits alternate
    // between two slots per lane: a lane can only reach its next exchange after every lane has
    // arrived at this one, and so it can only overwrite a slot once every lane has read it.
    unsigned long long exchange(unsigned mask, unsigned long long v, int src, const char* file, int line) {
        Fiber* f = tls_fiber;
        int slot = f->parity;
        f->parity ^= 1;
        f->value[slot] = v;
        warp_barrier(mask, file, line);
        return fibers[f->warp * 32 + src].value[slot];
    }

    unsigned ballot(unsigned mask, bool pred, const char* file, int line) {
        Fiber* f = tls_fiber;
        int slot = f->parity;
        f->parity ^= 1;
        f->value[slot] = pred ? 1 : 0;
        warp_barrier(mask, file, line);
        unsigned r = 0;
        int base = f->warp * 32;
        for (int l = 0; l < 32; l++)
            if (((mask >> l) & 1u) && base + l < (int)fibers.size() && fibers[base + l].value[slot])
                r |= 1u << l;
        return r;
    }
};

inline void Block::fiber_main(Block* b) {
#if FL_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &b->main_stack_bottom, &b->main_stack_size);
#endif
    b->body(b->body_arg);
    b->exit_fiber();
    b->yield_to_scheduler(true);  // never resumed
    std::abort();
}

// --- argument unpacking ---------------------------------------------------------------------

template <typename A>
constexpr char kind_of() {
    static_assert(std::is_pointer<A>::value || std::is_same<A, long long>::value || std::is_same<A, double>::value,
                  "kernel parameters must be pointers, long long or double (the project's convention)");
    return std::is_pointer<A>::value ? 'p' : std::is_same<A, long long>::value ? 'q' : 'd';
}

template <typename... A>
std::string signature() {
    return std::string{kind_of<A>()...};
}

template <typename... A, size_t... I>
void call_kernel(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<typename std::remove_reference<A>::type*>(args[I])...);
}

template <typename... A>
struct KernelCall {
    void (*f)(A...);
    void** args;
    static void body(void* self) {
        KernelCall* k = static_cast<KernelCall*>(self);
        call_kernel(k->f, k->args, std::index_sequence_for<A...>{});
    }
};

inline int worker_count() {
    const char* env = std::getenv("FASTLOSS_EMULATE_WORKERS");
    int n = env ? std::atoi(env) : 0;
    if (n <= 0) {
        n = (int)std::thread::hardware_concurrency();
        n = n < 1 ? 1 : n > 4 ? 4 : n;
    }
    return n;
}

// Run the grid: blocks in a random order, spread over worker threads
inline bool run_grid(Launch& L, void (*body)(void*), void* arg) {
    unsigned long long n_blocks = (unsigned long long)L.grid.x * L.grid.y * L.grid.z;
    int n_threads = (int)(L.block.x * L.block.y * L.block.z);
    if (n_threads <= 0 || n_threads > 1024) {
        L.error = "invalid block size " + std::to_string(n_threads);
        return false;
    }
    if (L.shared_bytes > kMaxDynamicShared) {
        L.error = "dynamic shared memory of " + std::to_string(L.shared_bytes) + " bytes exceeds the maximum";
        return false;
    }
    if (n_blocks == 0)
        return true;
    std::vector<unsigned long long> order(n_blocks);
    for (unsigned long long b = 0; b < n_blocks; b++)
        order[b] = b;
    Rng shuffle(L.seed ^ 0xB10C5EEDull);
    for (unsigned long long b = n_blocks - 1; b > 0; b--)
        std::swap(order[b], order[shuffle.next() % (b + 1)]);
    std::atomic<unsigned long long> next(0);
    std::mutex err_lock;
    auto worker = [&](int wid) {
        while (true) {
            unsigned long long k = next.fetch_add(1);
            if (k >= n_blocks)
                return;
            unsigned long long b = order[k];
            tls_block_idx.x = (unsigned)(b % L.grid.x);
            tls_block_idx.y = (unsigned)((b / L.grid.x) % L.grid.y);
            tls_block_idx.z = (unsigned)(b / ((unsigned long long)L.grid.x * L.grid.y));
            tls_block_dim = L.block;
            tls_grid_dim = L.grid;
            std::memset(fl_emu_dynamic_shared, 0xFF, L.shared_bytes);
#if FL_EMU_ASAN
            ASAN_UNPOISON_MEMORY_REGION(fl_emu_dynamic_shared, kMaxDynamicShared);
            ASAN_POISON_MEMORY_REGION(fl_emu_dynamic_shared + L.shared_bytes, kMaxDynamicShared - L.shared_bytes);
#endif
            Block blk(L.seed * 1000003ull + b * 7919ull + (unsigned long long)wid);
            blk.body = body;
            blk.body_arg = arg;
            tls_block = &blk;
            bool ok = blk.run(n_threads);
            tls_block = nullptr;
#if FL_EMU_ASAN
            ASAN_UNPOISON_MEMORY_REGION(fl_emu_dynamic_shared, kMaxDynamicShared);
#endif
            if (!ok) {
                std::lock_guard<std::mutex> g(err_lock);
                if (L.error.empty())
                    L.error = "block (" + std::to_string(tls_block_idx.x) + ", " + std::to_string(tls_block_idx.y) +
                              ", " + std::to_string(tls_block_idx.z) + "): " + blk.failure;
                next.store(n_blocks);  // stop handing out blocks
                return;
            }
        }
    };
    int workers = worker_count();
    if ((unsigned long long)workers > n_blocks)
        workers = (int)n_blocks;
    if (workers <= 1) {
        worker(0);
    } else {
        std::vector<std::thread> pool;
        for (int w = 0; w < workers; w++)
            pool.emplace_back(worker, w);
        for (auto& t : pool)
            t.join();
    }
    return L.error.empty();
}

template <typename... A>
int launch(void (*f)(A...), Launch& L) {
    std::string want = signature<A...>();
    if (want != L.kinds) {
        L.error = "argument kinds '" + std::string(L.kinds) + "' do not match the kernel's signature '" + want + "'";
        return 1;
    }
    KernelCall<A...> call{f, L.args};
    return run_grid(L, &KernelCall<A...>::body, &call) ? 0 : 1;
}

typedef int (*Launcher)(Launch&);

struct Entry {
    const char* name;
    Launcher launcher;
};

// The library's entry point (generated per library around its table of launchers): 0 on
// success, else a message in ``error``.
inline int dispatch(const Entry* entries, size_t n, const char* name, const char* kinds, const unsigned* dims,
                    unsigned long long shared, void** args, unsigned long long seed, char* error,
                    unsigned long long error_len) {
    std::string message = std::string("no kernel named ") + name;
    int rc = 2;
    for (size_t i = 0; i < n; i++) {
        if (std::strcmp(entries[i].name, name) != 0)
            continue;
        Launch L;
        L.grid = dim3{dims[0], dims[1], dims[2]};
        L.block = dim3{dims[3], dims[4], dims[5]};
        L.shared_bytes = (size_t)shared;
        L.args = args;
        L.kinds = kinds;
        L.seed = seed;
        rc = entries[i].launcher(L);
        message = L.error;
        break;
    }
    if (rc != 0 && error_len > 0) {
        std::strncpy(error, message.c_str(), (size_t)error_len - 1);
        error[error_len - 1] = '\0';
    }
    return rc;
}

}  // namespace fl_emu

// --- the CUDA builtins ---------------------------------------------------------------------------

#define threadIdx (fl_emu::tls_fiber->tid)
#define blockIdx (fl_emu::tls_block_idx)
#define blockDim (fl_emu::tls_block_dim)
#define gridDim (fl_emu::tls_grid_dim)
#define warpSize 32

#define __syncthreads() fl_emu::tls_block->syncthreads(__FILE__, __LINE__)
#define __syncwarp(...) fl_emu::tls_block->warp_barrier(fl_emu_mask_or_all(__VA_ARGS__), __FILE__, __LINE__)
#define __shfl_sync(mask, v, src, ...) fl_emu_shfl(mask, v, 0, (int)(src), fl_emu_width(__VA_ARGS__), __FILE__, __LINE__)
#define __shfl_down_sync(mask, v, d, ...) fl_emu_shfl(mask, v, 1, (int)(d), fl_emu_width(__VA_ARGS__), __FILE__, __LINE__)
#define __shfl_up_sync(mask, v, d, ...) fl_emu_shfl(mask, v, 2, (int)(d), fl_emu_width(__VA_ARGS__), __FILE__, __LINE__)
#define __shfl_xor_sync(mask, v, m, ...) fl_emu_shfl(mask, v, 3, (int)(m), fl_emu_width(__VA_ARGS__), __FILE__, __LINE__)
#define __ballot_sync(mask, pred) fl_emu::tls_block->ballot(mask, (pred) != 0, __FILE__, __LINE__)

inline unsigned fl_emu_mask_or_all() { return 0xFFFFFFFFu; }
inline unsigned fl_emu_mask_or_all(unsigned m) { return m; }
inline int fl_emu_width() { return 32; }
inline int fl_emu_width(int w) { return w; }

// mode 0: from lane src; 1: lane + d (down); 2: lane - d (up); 3: lane ^ m (xor); within
// segments of ``width`` lanes, out-of-segment sources read the lane's own value (as CUDA)
template <typename T>
T fl_emu_shfl(unsigned mask, T v, int mode, int arg, int width, const char* file, int line) {
    static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
    int lane = fl_emu::tls_fiber->lane;
    int seg = lane - lane % width;
    int src = lane;
    if (mode == 0)
        src = seg + (arg % width);
    else if (mode == 1)
        src = (lane - seg) + arg < width ? lane + arg : lane;
    else if (mode == 2)
        src = (lane - seg) - arg >= 0 ? lane - arg : lane;
    else {
        src = lane ^ arg;
        if (src < seg || src >= seg + width)
            src = lane;
    }
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    unsigned long long got = fl_emu::tls_block->exchange(mask, bits, src, file, line);
    T r;
    std::memcpy(&r, &got, sizeof(T));
    return r;
}

inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

template <typename T>
T atomicAdd(T* p, T v) {
    if constexpr (std::is_floating_point<T>::value) {
        T old, want;
        __atomic_load(p, &old, __ATOMIC_SEQ_CST);
        do {
            want = old + v;
        } while (!__atomic_compare_exchange(p, &old, &want, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
        return old;
    } else {
        return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
    }
}

template <typename T>
T atomicMin(T* p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}

template <typename T>
T atomicMax(T* p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (v > old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}

template <typename T>
T atomicCAS(T* p, T compare, T v) {
    __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return compare;
}

template <typename T>
T atomicExch(T* p, T v) {
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}

inline double __longlong_as_double(long long v) {
    double d;
    std::memcpy(&d, &v, 8);
    return d;
}
inline long long __double_as_longlong(double v) {
    long long d;
    std::memcpy(&d, &v, 8);
    return d;
}
inline float __int_as_float(int v) {
    float d;
    std::memcpy(&d, &v, 4);
    return d;
}
inline int __float_as_int(float v) {
    int d;
    std::memcpy(&d, &v, 4);
    return d;
}
// CUDA's fast single-precision exp (about 2 ulp on the device): the C library's expf here
inline float __expf(float v) { return expf(v); }
template <typename T>
T __ldg(const T* p) {
    return *p;
}

// The project's dynamic shared memory (``extern __shared__ unsigned char fl_dynamic_smem[];`` in
// the kernels' headers): the OS thread's per-block buffer.
#define fl_dynamic_smem fl_emu_dynamic_shared
