"""Peak memory of CTC at (T, N, C, S) = (1000, 16, 1000, 200): fastloss and torch, forward and
with the gradient, each in a fresh process (2 threads).

Each case loads the inputs (written once to temporary .npy files, so building them leaves no peak
behind), imports the library, and prints the growth of the process's peak RSS (``VmHWM``, Linux)
from there: the inputs themselves (about 64 MiB of log_probs) are not counted; the gradient
(61 MiB) is. Run: ``python benchmarks/ctc_memory.py``.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CASE = r"""
import json, sys
import numpy as np

def peak_kib():
    # VmHWM: this process image's peak RSS (ru_maxrss would include the parent's, forked before exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

lib, mode, path = sys.argv[1], sys.argv[2], sys.argv[3]
args = [np.load(f"{path}/{k}.npy") for k in ("log_probs", "targets", "input_lengths", "target_lengths")]
if lib == "torch":
    import torch
    torch.set_num_threads(2)
    tensors = [torch.from_numpy(a) for a in args]
    if mode == "grad":
        tensors[0].requires_grad_(True)
else:
    import fastloss
    fastloss.set_num_threads(2)
base = peak_kib()
if lib == "fastloss":
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
peak = peak_kib()
print(json.dumps((peak - base) / 1024))
"""


def growth_mib(lib, mode, path):
    out = subprocess.run([sys.executable, "-c", CASE, lib, mode, path], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.bench_ctc import SIZES, ctc_inputs

    print("| | forward | value_and_grad / forward+backward |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = ctc_inputs(*SIZES["1000x16x1000x200"])
        for name, a in zip(("log_probs", "targets", "input_lengths", "target_lengths"), inputs):
            np.save(os.path.join(tmp, name + ".npy"), a)   # .npy loads without a temporary copy
        path = tmp
        for lib in ("fastloss", "torch"):
            try:
                fwd, grad = growth_mib(lib, "forward", path), growth_mib(lib, "grad", path)
            except subprocess.CalledProcessError as exc:
                print(f"| {lib} | failed: {exc.stderr.strip().splitlines()[-1]} | |")
                continue
            print(f"| {lib} | +{fwd:.1f} MiB | +{grad:.1f} MiB |")


if __name__ == "__main__":
    main()
