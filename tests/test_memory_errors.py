"""A kernel whose work space cannot be allocated raises MemoryError and the process lives on.

Each case runs in a subprocess whose address space is capped (RLIMIT_AS) just above what it
already uses, after its OpenMP team has started (thread stacks are mapped before the cap), so the
kernel's large allocation fails on any machine, whatever its memory and overcommit policy. The cap
is then lifted and a normal call must still work."""
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

KERNEL_MESSAGE = "out of memory for a kernel's work space"

SCRIPT = """
import resource, warnings
import numpy as np
import fastloss as fl
warnings.simplefilter("ignore")
fl.set_num_threads({threads})
x = np.ones(1 << 20, np.float32)
fl.mse_loss(x, x)                       # the team exists before the cap
{setup}
vm = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize")][0]
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (vm + (64 << 20), hard))
try:
    {call}
    print("no error")
except MemoryError as e:
    print("MemoryError:", e)
resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
assert float(fl.mse_loss(x, 2 * x)) == 1.0
print("alive")
"""

CASES = {
    # the repro: 2**45 elements broadcast; the per-block partial sums alone are 128 GiB
    "mse_broadcast": ("", "fl.mse_loss(np.broadcast_to(np.float32(1), (2**45,)), np.float32(0))"),
    # the CTC: an alpha table of T * (2S + 6) doubles (80 GB)
    "ctc_grad_long": ("T, C, S = 100_000, 30, 50_000\n"
                      "lp = np.full((T, 1, C), -np.log(C), np.float32)\n"
                      "tg = (np.arange(S) % (C - 1) + 1)[None]",
                      "fl.value_and_grad(fl.ctc_loss, lp, tg, [T], [S])"),
    # per-thread scratch rows inside the parallel region (C = 2**26 classes: 256 MB each)
    "multi_margin_row_scratch": ("xm = np.zeros((1, 1 << 26), np.float32)",
                                 "fl.multi_margin_loss(xm, np.zeros(1, np.int64))"),
    "multilabel_margin_row_scratch": ("xm = np.zeros((1, 1 << 24), np.float32)\n"
                                      "ym = np.full((1, 1 << 24), -1, np.int64)",
                                      "fl.multilabel_margin_loss(xm, ym)"),
}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_kernel_allocation_failure_raises_memory_error(case, threads):
    setup, call = CASES[case]
    code = SCRIPT.format(threads=threads, setup=setup, call=call)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[-1] == "alive"
    assert lines[0].startswith("MemoryError:") and KERNEL_MESSAGE in lines[0], out.stdout
    if case == "mse_broadcast":
        assert f"({2**45 // 2048 * 8} bytes could not be allocated)" in lines[0]

