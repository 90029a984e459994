"""Peak memory of CTC at (T, N, C, S) = (1000, 16, 1000, 200): fastloss and torch, forward and
with the gradient, each in a fresh process (2 threads).

Each case prints the growth of the process's peak RSS (``ru_maxrss``) over its peak once the inputs
exist, so the inputs themselves (about 64 MiB of log_probs) are not counted; the gradient (61 MiB)
is. Run: ``python benchmarks/ctc_memory.py``.
"""
import json
import subprocess
import sys

CASE = r"""
import json, resource, sys
import numpy as np
from benchmarks.bench_ctc import ctc_inputs, SIZES
lib, mode = sys.argv[1], sys.argv[2]
args = ctc_inputs(*SIZES["1000x16x1000x200"])
if lib == "torch":
    import torch
    torch.set_num_threads(2)
    tensors = [torch.from_numpy(a) for a in args]
    if mode == "grad":
        tensors[0].requires_grad_(True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if lib == "fastloss":
    import fastloss
    fastloss.set_num_threads(2)
    if mode == "grad":
        fastloss.value_and_grad(fastloss.ctc_loss, *args, wrt=("log_probs",))
    else:
        fastloss.ctc_loss(*args)
else:
    import torch.nn.functional as F
    if mode == "grad":
        torch.autograd.grad(F.ctc_loss(*tensors), [tensors[0]])
    else:
        with torch.no_grad():
            F.ctc_loss(*tensors)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps((peak - base) / 1024))
"""


def growth_mib(lib, mode):
    out = subprocess.run([sys.executable, "-c", CASE, lib, mode], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    print("| | forward | value_and_grad / forward+backward |")
    print("|---|---:|---:|")
    for lib in ("fastloss", "torch"):
        try:
            fwd, grad = growth_mib(lib, "forward"), growth_mib(lib, "grad")
        except subprocess.CalledProcessError as exc:
            print(f"| {lib} | failed: {exc.stderr.strip().splitlines()[-1]} | |")
            continue
        print(f"| {lib} | +{fwd:.1f} MiB | +{grad:.1f} MiB |")


if __name__ == "__main__":
    main()
