#!/usr/bin/env bash
# The GPU checks, in one run, for a machine with a CUDA device, CuPy and torch CUDA (a lent device
# machine: CI has no GPU). Builds the CPU kernels in place (the reference the GPU tests compare
# with), then runs, each step logged to $OUT/<step>.log with a time limit:
#   check  NVRTC compiles every kernel instantiation (python -m fastloss._gpu.check)
#   tests  pytest -m gpu tests: every loss and module on CuPy arrays against the CPU backend
#   bench  benchmarks/bench_gpu.py: device timings against torch CUDA (CUDA events, medians)
#   spec   the whole spec suite on the device: FASTLOSS_SPEC_IMPL=cupy (NumPy inputs uploaded)
#   variants  benchmarks/gpu_variants.py: the A/B of the kernel variants it lists (not by default)
#
#   OUT=/tmp/gpu-logs bash benchmarks/gpu_device_check.sh [step ...]     # default: every step
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/fastloss-gpu}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
JOBS="${JOBS:-$(nproc)}"
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=ci
PYTEST=("$PY" -m pytest -q -p no:cacheprovider -rfE)

step() {  # step NAME LIMIT_SECONDS COMMAND...: run, log, print its rc, time and last lines
    local name=$1 limit=$2 start rc
    shift 2
    start=$(date +%s)
    timeout "$limit" bash -c '"$@"' "$name" "$@" >"$OUT/$name.log" 2>&1   # bash -c: steps may be functions
    rc=$?
    echo "== $name: rc=$rc, $(($(date +%s) - start)) s"
    tail -n "${TAIL:-8}" "$OUT/$name.log"
    return $rc
}

info() {
    nvidia-smi -L
    "$PY" -c 'import sys, sysconfig, numpy, cupy, torch
print(sys.version.split()[0], "numpy", numpy.__version__, "cupy", cupy.__version__, "torch", torch.__version__,
      "CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(), "include", sysconfig.get_paths()["include"])'
}

build() {
    # the baseline copy of each kernel module only: the GPU tests need the CPU backend, not its ISA variants
    FASTLOSS_ISA_VARIANTS=none "$PY" setup.py -q build_ext --inplace -j "$JOBS"
}

export -f info build
export PY JOBS

XDIST=()   # the spec suite on several workers where pytest-xdist is installed
"$PY" -c "import xdist" 2>/dev/null && XDIST=(-n "${SPEC_WORKERS:-8}")

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(check tests bench spec)

step info 60 info
step build 300 build || { echo "build failed: see $OUT/build.log"; exit 1; }
status=0
for s in "${steps[@]}"; do
    case $s in
        check) step check 180 "$PY" -m fastloss._gpu.check || status=1 ;;
        tests) step tests 300 "${PYTEST[@]}" -m gpu tests || status=1 ;;
        bench) step bench 300 "$PY" benchmarks/bench_gpu.py || status=1 ;;
        spec) TAIL=25 step spec 400 env FASTLOSS_SPEC_IMPL=cupy "${PYTEST[@]}" "${XDIST[@]}" spec || status=1 ;;
        variants) TAIL=40 step variants 400 "$PY" benchmarks/gpu_variants.py || status=1 ;;
        *) echo "unknown step $s (check, tests, bench, spec, variants)"; status=2 ;;
    esac
done
exit $status
