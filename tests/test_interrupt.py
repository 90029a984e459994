"""Ctrl-C interrupts a long kernel call: SIGINT reaches the call within about a second, as
KeyboardInterrupt (or whatever the process's SIGINT handler raises).

Each case runs in a subprocess that starts a call needing many seconds (tens of billions of
elements or lattice cells); the test sends SIGINT half a second after the call began and expects
the call to have raised well within two seconds of the signal."""
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SCRIPT = """
import signal, sys, time, warnings
import numpy as np
import fastloss as fl
warnings.simplefilter("ignore")
# Python's own handler, whatever this process inherited: a shell starts background jobs (and CI
# runners their steps) with SIGINT ignored, and an ignored signal stays ignored across exec
signal.signal(signal.SIGINT, signal.default_int_handler)
fl.set_num_threads({threads})
{setup}
print("ready", flush=True)
t0 = time.monotonic()
try:
    {call}
    print("finished", time.monotonic() - t0, flush=True)
except {expect} as e:
    print("raised", type(e).__name__, time.monotonic() - t0, flush=True)
"""

# huge broadcast mse: 2**36 elements (minutes); its per-block partial sums take 256 MB of address space
MSE = ("", "fl.mse_loss(np.broadcast_to(np.float32(1), (2**36,)), np.float32(0))")
# CTC forward, T = 10**6 steps of 2 * 5000 + 1 states: 10**10 lattice cells (tens of seconds)
CTC_ONE = ("T, S = 1_000_000, 5000\n"
           "lp = np.full((T, 1, 2), -np.log(2), np.float32)",
           "fl.ctc_loss(lp, np.ones((1, S), np.int64), [T], [S])")
# one long sample and two short ones: with two threads one of them may finish early and wait for
# the long one, while the signal must still be answered
CTC_TAIL = ("T, S = 1_000_000, 5000\n"
            "lp = np.full((T, 3, 2), -np.log(2), np.float32)",
            "fl.ctc_loss(lp, np.ones((3, S), np.int64), [T, 20_000, 20_000], [S, 50, 50])")

CASES = {"mse": MSE, "ctc": CTC_ONE, "ctc_tail": CTC_TAIL}


def run_and_interrupt(setup, call, threads, expect="KeyboardInterrupt", prelude=""):
    code = SCRIPT.format(threads=threads, setup=prelude + setup, call=call, expect=expect)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready = select.select([proc.stdout], [], [], 120)[0]
        assert ready and proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        answered = select.select([proc.stdout], [], [], 10)[0]
        line = proc.stdout.readline().split() if answered else []
        latency = time.monotonic() - sent
    finally:
        proc.kill()
        proc.wait()
    assert line, "the call did not answer SIGINT within 10 s"
    return line, latency


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_sigint_interrupts_a_long_call(case, threads):
    line, latency = run_and_interrupt(*CASES[case], threads)
    assert line[:2] == ["raised", "KeyboardInterrupt"], line
    assert float(line[2]) >= 0.5          # it was inside the call when the signal came
    assert latency < 2.0


def test_the_handlers_exception_is_raised():
    # a SIGINT handler of the process's own: its exception comes out of the kernel call
    prelude = ("def handler(signum, frame):\n"
               "    raise TimeoutError('stop')\n"
               "signal.signal(signal.SIGINT, handler)\n")
    line, latency = run_and_interrupt(*MSE, 2, expect="TimeoutError", prelude=prelude)
    assert line[:2] == ["raised", "TimeoutError"], line
    assert latency < 2.0
