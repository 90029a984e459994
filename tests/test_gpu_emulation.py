"""The CUDA emulation shim (fastloss/_gpu/emulate.h), tested on kernels of its own: shuffles and
shared-memory reductions match NumPy, a missing __syncthreads and a divergent barrier are
caught, AddressSanitizer sees an out-of-bounds read, libraries are cached by content.

Needs a C++ compiler (g++); skipped without one."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("FASTLOSS_EMULATE_CXX", "g++")) is None,
                                reason="no C++ compiler (g++) for the CUDA emulation")

KERNELS = r'''
#include "common.cuh"

// every lane's value summed with shuffles (fl::warp_sum) and the block's with fl::block_sum
extern "C" __global__ void t_sums(const double* x, i64 n, double* warp_out, double* block_out) {
    i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    double v = i < n ? x[i] : 0.0;
    double w = fl::warp_sum(v);
    if ((threadIdx.x & 31) == 0)
        warp_out[i >> 5] = w;
    double b = fl::block_sum(v);
    if (threadIdx.x == 0)
        block_out[blockIdx.x] = b;
}

// out[i] = x[(i + 1) % n] through shared memory; ``barrier`` chooses whether the block waits
// for every write before reading a neighbour's slot
extern "C" __global__ void t_rotate(const double* x, double* out, i64 barrier) {
    double* s = reinterpret_cast<double*>(fl_dynamic_smem);
    int i = threadIdx.x, n = blockDim.x;
    s[i] = x[i];
    if (barrier)
        __syncthreads();
    out[i] = s[(i + 1) % n];
}

// half the block waits at one barrier, half at another
extern "C" __global__ void t_divergent(double* out) {
    if (threadIdx.x < 32) {
        __syncthreads();
        out[threadIdx.x] = 1.0;
    } else {
        __syncthreads();
        out[threadIdx.x] = 2.0;
    }
}

// reads one element past the end when ``past`` is 1
extern "C" __global__ void t_read(const double* x, i64 n, i64 past, double* out) {
    if (threadIdx.x == 0)
        out[0] = x[n - 1 + past];
}

// the argument kinds: pointer, long long, double
extern "C" __global__ void t_kinds(double* out, i64 k, double v) {
    if (threadIdx.x == 0)
        out[0] = (double)k + v;
}
'''
NAMES = ["t_sums", "t_rotate", "t_divergent", "t_read", "t_kinds"]


@pytest.fixture(scope="module")
def lib():
    from fastloss._gpu._emulate import Library

    return Library.from_source(KERNELS, NAMES, tag="shimtest", sanitize=False)


def test_shuffle_and_block_reductions_match_numpy(lib):
    rng = np.random.default_rng(0)
    n, block = 1000, 256
    x = rng.standard_normal(n)
    grid = (n + block - 1) // block
    warp_out = np.zeros(grid * block // 32)
    block_out = np.zeros(grid)
    for seed in range(3):
        lib.launch("t_sums", grid, block, [x, n, warp_out, block_out], seed=seed)
        padded = np.concatenate([x, np.zeros(grid * block - n)])
        np.testing.assert_allclose(warp_out, padded.reshape(-1, 32).sum(axis=1), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(block_out, padded.reshape(-1, block).sum(axis=1), rtol=1e-13, atol=1e-13)


def test_missing_syncthreads_is_caught_and_the_barrier_fixes_it(lib):
    x = np.arange(64, dtype=np.float64)
    expected = np.roll(x, -1)
    wrong = 0
    for seed in range(8):
        out = np.zeros(64)
        lib.launch("t_rotate", 1, 64, [x, out, 0], shared=64 * 8, seed=seed)
        wrong += not np.array_equal(out, expected)
        out = np.zeros(64)
        lib.launch("t_rotate", 1, 64, [x, out, 1], shared=64 * 8, seed=seed)
        np.testing.assert_array_equal(out, expected)
    # a thread reading before its neighbour wrote sees the shim's fill (NaN), under every schedule
    # but the rare one that happens to run the threads in order
    assert wrong == 8


def test_divergent_barrier_is_reported(lib):
    from fastloss._gpu._emulate import EmulationError

    with pytest.raises(EmulationError, match="divergent __syncthreads"):
        lib.launch("t_divergent", 1, 64, [np.zeros(64)])


def test_argument_kinds_are_checked(lib):
    from fastloss._gpu._emulate import EmulationError

    out = np.zeros(1)
    lib.launch("t_kinds", 1, 32, [out, 2, 0.5])
    assert out[0] == 2.5
    with pytest.raises(EmulationError, match="argument kinds 'pdq'.*'pqd'"):
        lib.launch("t_kinds", 1, 32, [out, 0.5, 2])


def test_libraries_are_cached_by_content(monkeypatch, tmp_path):
    from fastloss._gpu._emulate import build

    monkeypatch.setenv("FASTLOSS_EMULATE_CACHE", str(tmp_path))
    code = 'extern "C" __global__ void t_one(double* out) { out[0] = 1.0; }\n'
    a = build("cachetest", code, ["t_one"], sanitize=False)
    assert a.parent == tmp_path and a.exists()
    stamp = a.stat().st_mtime_ns
    assert build("cachetest", code, ["t_one"], sanitize=False) == a
    assert a.stat().st_mtime_ns == stamp  # found, not rebuilt
    changed = build("cachetest", code.replace("1.0", "2.0"), ["t_one"], sanitize=False)
    assert changed != a and changed.exists()


def test_family_library_is_keyed_by_the_installed_source():
    """The emulation compiles the installed .cu text itself: the library loaded for a family is
    the one named after that text, and an edited source names another library."""
    from fastloss._gpu import _emulate, _runtime

    names = _runtime.kernel_names("elementwise")
    original = _runtime.source("elementwise")
    path, tu = _emulate.library_path("elementwise", original, names, sanitize=False)
    assert original in tu
    assert _emulate.Library.for_family("elementwise", sanitize=False).path == path
    edited = original.replace("l = (d * d) * w;", "l = (d * d) * w + T(0);")
    assert edited != original
    assert _emulate.library_path("elementwise", edited, names, sanitize=False)[0] != path


ASAN_SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    sys.path.insert(0, {src!r})
    sys.path.insert(0, {tests!r})
    from fastloss._gpu._emulate import Library
    from test_gpu_emulation import KERNELS, NAMES
    lib = Library.from_source(KERNELS, NAMES, tag="shimtest", sanitize=True)
    x = np.arange(10.0)
    out = np.zeros(1)
    lib.launch("t_read", 1, 32, [x, 10, 0, out])
    assert out[0] == 9.0
    print("in bounds ok", flush=True)
    lib.launch("t_read", 1, 32, [x, 10, int(sys.argv[1]), out])
    print("no report", flush=True)
''')


def _asan_runtime():
    cxx = os.environ.get("FASTLOSS_EMULATE_CXX", "g++")
    try:
        path = subprocess.run([cxx, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None
    return path if os.path.isabs(path) and os.path.exists(path) else None


def test_address_sanitizer_catches_an_out_of_bounds_read(tmp_path):
    asan = _asan_runtime()
    if asan is None:
        pytest.skip("the compiler has no AddressSanitizer runtime (libasan.so)")
    # the fastloss this test runs against (installed, or the source tree built in place)
    import fastloss
    src = os.path.dirname(os.path.dirname(os.path.abspath(fastloss.__file__)))
    script = tmp_path / "asan_probe.py"
    script.write_text(ASAN_SCRIPT.format(src=src, tests=os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0")
    clean = subprocess.run([sys.executable, str(script), "0"], capture_output=True, text=True, env=env, timeout=600)
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert "no report" in clean.stdout
    bad = subprocess.run([sys.executable, str(script), "1"], capture_output=True, text=True, env=env, timeout=600)
    assert bad.returncode != 0
    assert "in bounds ok" in bad.stdout and "no report" not in bad.stdout
    assert "heap-buffer-overflow" in bad.stderr, bad.stderr[-3000:]
