"""A/B of CUDA source variants in one process, for a lent GPU's short lease.

A variant is a family's kernel source with text substitutions (each must match exactly once).
It is compiled by NVRTC and swapped into the device runtime, so the backend's own launches run
it. For each variant the script:

1. checks the results of a small public call against the unchanged source's: bit for bit where
   the variant promises the same results, to a tolerance where it does not;
2. times bench_gpu's cases with the variant and the baseline (CUDA events, medians), baseline
   first and last, so a drift of the card shows.

The leads in benchmarks/GPU_NOTES.md are written here as variants, ready for the next device
session:

    python benchmarks/gpu_variants.py                  # every variant (needs CuPy, torch CUDA, a GPU)
    python benchmarks/gpu_variants.py NAME ...         # the variants named
    python benchmarks/gpu_variants.py --fake           # step 1 only, through fakecupy (no GPU needed)
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The gradient pass of cross_entropy's row kernel, as in classification.cu, and backwards.
_CE_PASS = "team_row_batched<Team>(C, [&](i64 c) { return xr[c]; }, [&](i64 c, T xc) {"
_CE_PASS_BACKWARDS = ("team_row_batched<Team>(C, [&](i64 c) { return xr[C - 1 - c]; }, [&](i64 cc, T xc) {"
                      " const i64 c = C - 1 - cc;")

# name: (family, [(old, new), ...], bit-identical results?, bench_gpu cases to time, a sample call)
VARIANTS = {
    # the second pass over each row reads it from its end, the part the first pass read last
    "ce-grad-pass-backwards": ("classification", [(_CE_PASS, _CE_PASS_BACKWARDS)], True,
                               ["cross_entropy-8192x50257"], "cross_entropy"),
    # one load in flight per thread: the batching's own effect
    "ce-no-batching": ("classification", [("return 16 / (int)sizeof(V);", "return 1;")], True,
                       ["cross_entropy-8192x50257"], "cross_entropy"),
    "ew-no-batching": ("elementwise", [("return 16 / (int)sizeof(V);", "return 1;")], True,
                       ["mse_loss-67M", "bce_with_logits-67M"], "bce_with_logits"),
    # bce_with_logits on the fast single-precision exp (a diagnostic: is it bound by arithmetic?)
    "bce-logits-fast-exp": ("elementwise", [("__device__ __forceinline__ float f_exp(float v) { return expf(v); }",
                                             "__device__ __forceinline__ float f_exp(float v) { return __expf(v); }")],
                            False, ["bce_with_logits-67M"], "bce_with_logits"),
    # CTC without the row prefetch: what the prefetch gains
    "ctc-no-prefetch": ("ctc", [("constexpr i64 CTC_AHEAD = 4;", "constexpr i64 CTC_AHEAD = 1 << 30;")], True,
                        ["ctc-500x32x29x120", "ctc-2000x64x512x400"], "ctc_loss"),
}


def sample_call(kind, xp):
    """A small public value_and_grad on ``xp`` arrays: (loss, grads) as NumPy."""
    import fastloss

    rng = np.random.default_rng(1)
    if kind == "cross_entropy":
        args = (rng.standard_normal((6, 1500), dtype=np.float32), rng.integers(0, 1500, 6))
    elif kind == "bce_with_logits":
        args = (rng.standard_normal(5000, dtype=np.float32) * 4, rng.random(5000, dtype=np.float32))
        kind = "binary_cross_entropy_with_logits"
    else:  # ctc_loss: (T, N, C) log-probs, padded targets, lengths as lists
        x = rng.standard_normal((30, 3, 12))
        lp = (x - np.log(np.exp(x).sum(axis=2, keepdims=True))).astype(np.float32)
        args = (lp, rng.integers(1, 12, (3, 6)), [30, 28, 25], [6, 4, 5])
    dev = [xp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    loss, grads = fastloss.value_and_grad(kind, *dev)
    return xp.asnumpy(loss), {k: xp.asnumpy(g) for k, g in grads.items()}


def variant_source(family, substitutions):
    from fastloss._gpu._runtime import source

    text = source(family)
    for old, new in substitutions:
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"gpu_variants: {old!r} occurs {count} times in {family}'s source, not once: "
                             f"the variant no longer matches the kernels")
        text = text.replace(old, new)
    return text


class Swap:
    """Installs a source (None: the unchanged one) for a family in the runtime of ``xp``'s arrays."""

    def __init__(self, xp):
        from fastloss._gpu import _runtime

        self.runtime = _runtime.runtime_for(xp.zeros(1))
        self.fake = isinstance(self.runtime, _runtime.FakeDeviceRuntime)

    def install(self, family, text):
        from fastloss._gpu import _emulate, _runtime

        if text is None:
            text = _runtime.source(family)
        names = _runtime.kernel_names(family)
        if self.fake:  # the emulation compiles the text with g++ instead (already expanded)
            path = _emulate.build(f"{family}_variant", text, names)
            self.runtime._emulation._libraries[family] = _emulate.Library(path, family)
        else:
            self.runtime._modules[family] = self.runtime.xp.RawModule(code=text, options=_runtime.NVRTC_OPTIONS,
                                                                      name_expressions=names)


def compile_report(name):
    """NVRTC's verdict on the variant for sm_90 (compile errors, warnings, spills), or None
    where NVRTC cannot be loaded."""
    from fastloss._gpu import check as nvrtc_check

    try:
        compile_program, _ = nvrtc_check.nvrtc_compiler()
    except nvrtc_check.NvrtcUnavailable:
        return None
    family, subs = VARIANTS[name][:2]
    problems, rows = nvrtc_check.check_family(compile_program, family, "sm_90", variant_source(family, subs))
    return problems


def check(name, swap, xp):
    problems = compile_report(name)
    nvrtc = ("no NVRTC" if problems is None else "NVRTC sm_90 clean" if not problems
             else "NVRTC sm_90: " + "; ".join(p.splitlines()[0] for p in problems))
    if problems and any("compile error" in p for p in problems):
        print(f"{name:26s} {nvrtc}  <-- FAILED", flush=True)
        return False
    family, subs, identical, _, kind = VARIANTS[name]
    swap.install(family, None)
    base = sample_call(kind, xp)
    swap.install(family, variant_source(family, subs))
    got = sample_call(kind, xp)
    swap.install(family, None)
    same = base[0].tobytes() == got[0].tobytes() and all(base[1][k].tobytes() == got[1][k].tobytes()
                                                         for k in base[1])
    close = np.allclose(base[0], got[0], rtol=1e-4) and all(np.allclose(base[1][k], got[1][k], rtol=1e-4, atol=1e-6)
                                                             for k in base[1])
    ok = same if identical else close
    print(f"{name:26s} {nvrtc}; results {'bit-identical' if same else 'within 1e-4' if close else 'DIFFERENT'}"
          f"{'' if ok else '  <-- FAILED'}", flush=True)
    return ok


def time_variant(name, swap):
    import bench_gpu

    family, subs, _, cases, _ = VARIANTS[name]
    for case in cases:
        rows = []
        for label, text in (("baseline", None), (name, variant_source(family, subs)), ("baseline", None)):
            swap.install(family, text)
            times = bench_gpu.measure(case)
            rows.append(f"{label} fwd {times['fastloss-forward']:.3f} vag {times['fastloss-value_and_grad']:.3f}")
        swap.install(family, None)
        print(f"  {case:26s} " + " | ".join(rows) + " (ms)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"variants (default: all): {', '.join(VARIANTS)}")
    parser.add_argument("--fake", action="store_true", help="check results through fakecupy only (no GPU)")
    args = parser.parse_args(argv)
    names = args.names or list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}")
    if args.fake:
        from fastloss._gpu import fakecupy as xp
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_gpu

        if bench_gpu._device()[0] is None:
            print(f"gpu_variants: skipped: {bench_gpu._device()[1]}")
            return 0
        import cupy as xp
    swap = Swap(xp)
    failed = 0
    for name in names:
        if not check(name, swap, xp):
            failed += 1
        elif not args.fake:
            time_variant(name, swap)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
