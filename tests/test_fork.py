"""fork() after fastloss ran a team of threads: the child's kernels work (GNU libgomp's pool does not
survive fork; a child running a team of more than one thread would hang) and give the parent's
results. Every child is waited for with a timeout, so a regression fails instead of hanging."""
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastloss as fl
from fastloss import _threads

TIMEOUT = 60

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python 3.12+ warns that forking a process with threads (the OpenMP pool) may deadlock:
    # what this module tests is that fastloss's kernels do not
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]


def losses():
    """A few kernel families, each with enough work for a team of threads."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 200)).astype(np.float32)
    y = rng.standard_normal((300, 200)).astype(np.float32)
    t = rng.integers(0, 200, 300)
    lp = rng.standard_normal((200, 4, 20))
    lp = lp - np.log(np.exp(lp).sum(axis=2, keepdims=True))
    targets = rng.integers(1, 20, (4, 30))
    mse, g_mse = fl.value_and_grad(fl.mse_loss, x, y)
    ce, g_ce = fl.value_and_grad(fl.cross_entropy, x, t)
    ctc, g_ctc = fl.value_and_grad(fl.ctc_loss, lp, targets, [200] * 4, [30, 20, 25, 30])
    return [np.asarray(mse), g_mse["input"], np.asarray(ce), g_ce["input"], np.asarray(ctc), g_ctc["log_probs"]]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.fixture
def parent_used_threads(monkeypatch):
    if not fl.has_openmp():
        pytest.skip("serial build: no OpenMP pool")
    monkeypatch.setattr(_threads, "_explicit", 2)
    return losses()   # the parent's team of two threads (and its libgomp pool) now exists


def test_os_fork_child_runs_kernels(parent_used_threads):
    expected = parent_used_threads
    pid = os.fork()
    if pid == 0:  # child: report through the exit status only
        code = 1
        try:
            got = losses()
            code = 0 if same(got, expected) and fl.get_num_threads() == 1 else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + TIMEOUT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung in a kernel")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(status) == 0, "the child's results differ from the parent's (or it failed)"


def _pool_task(_):
    return fl.get_num_threads(), losses()


def test_multiprocessing_fork_pool(parent_used_threads):
    expected = parent_used_threads
    with multiprocessing.get_context("fork").Pool(2) as pool:
        try:
            results = pool.map_async(_pool_task, range(4)).get(timeout=TIMEOUT)
        except multiprocessing.TimeoutError:
            pool.terminate()
            pytest.fail("a fork pool worker hung in a kernel")
    for n, got in results:
        assert n == 1
        assert same(got, expected)


def run_script(code):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=TIMEOUT)
    assert out.returncode == 0, out.stderr
    return out


def test_child_asking_for_threads_is_warned_and_stays_serial():
    out = run_script("""
        import os, signal, warnings, numpy as np, fastloss as fl
        x = np.ones(100_000, np.float32)
        fl.set_num_threads(2)
        fl.mse_loss(x, x)
        pid = os.fork()
        if pid == 0:
            signal.alarm(30)    # a hung child dies
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                fl.set_num_threads(4)
            ok = fl.get_num_threads() == 1 and float(fl.mse_loss(x, 2 * x)) == 1.0
            ok = ok and any(issubclass(i.category, RuntimeWarning) and "fork" in str(i.message) for i in w)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    assert out.stdout.strip() == "0"


def test_child_of_a_parent_without_a_team_keeps_its_threads():
    # forked before any team ran: libgomp has no pool to lose, the child may use threads
    out = run_script("""
        import os, signal, numpy as np, fastloss as fl
        x = np.ones(100_000, np.float32)
        fl.set_num_threads(2)
        fl.mse_loss(x[:10], x[:10])     # too small for a team
        pid = os.fork()
        if pid == 0:
            signal.alarm(30)
            ok = fl.get_num_threads() == 2 and float(fl.mse_loss(x, 2 * x)) == 1.0
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    assert out.stdout.strip() == "0"
