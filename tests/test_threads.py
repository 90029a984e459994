"""Thread controls: set/get, the environment variable, threadpoolctl, torch's thread count left
alone, and thread-count independence. (Fork: test_fork.py.)"""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss as fl
from fastloss import _threads


@pytest.fixture
def restore_threads(monkeypatch):
    # the policy's state as it was (set_num_threads cannot unset an explicit value)
    monkeypatch.setattr(_threads, "_explicit", _threads._explicit)
    monkeypatch.setattr(_threads, "_env", _threads._env)


@pytest.fixture
def openmp_default(restore_threads):
    """Neither set_num_threads nor FASTLOSS_NUM_THREADS: fastloss follows OpenMP's default."""
    _threads._explicit = 0
    _threads._env = 0


def test_set_and_get(restore_threads):
    fl.set_num_threads(1)
    assert fl.get_num_threads() == 1
    fl.set_num_threads(3)
    assert fl.get_num_threads() == 3


@pytest.mark.parametrize("bad", [0, -2])
def test_non_positive_refused(bad):
    with pytest.raises(ValueError, match="positive"):
        fl.set_num_threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", None, True])
def test_non_integer_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        fl.set_num_threads(bad)


def test_environment_variable():
    env = dict(os.environ, FASTLOSS_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", "import fastloss; print(fastloss.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"


@pytest.mark.parametrize("bad", ["many", "0", "-1", "2.5"])
def test_bad_environment_variable_warns_and_falls_back(bad):
    # OMP_NUM_THREADS=3: OpenMP's default, which an invalid FASTLOSS_NUM_THREADS falls back to
    env = dict(os.environ, FASTLOSS_NUM_THREADS=bad, OMP_NUM_THREADS="3")
    code = "import fastloss; print(fastloss.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "RuntimeWarning" in out.stderr and f"FASTLOSS_NUM_THREADS={bad!r}" in out.stderr
    assert out.stdout.strip() == ("3" if fl.has_openmp() else "1")


def test_threadpoolctl_limits_the_default(openmp_default):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fl.has_openmp():
        pytest.skip("serial build: no OpenMP pool to see")
    openmp = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
    assert openmp, "threadpoolctl does not see the OpenMP runtime the kernels use"
    before = fl.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fl.get_num_threads() == 1
    assert fl.get_num_threads() == before
    # an explicit count wins over the pool's limit
    fl.set_num_threads(2)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fl.get_num_threads() == 2


def test_set_num_threads_leaves_openmp_default_alone(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
    for n in (1, 3):
        fl.set_num_threads(n)
        after = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()
                 if i["user_api"] == "openmp"]
        assert after == before


@pytest.mark.torch
def test_set_num_threads_leaves_torch_alone(restore_threads):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    for n in (1, 3):
        fl.set_num_threads(n)
        assert fl.get_num_threads() == n
        assert torch.get_num_threads() == before
    x = np.ones((1000, 100), np.float32)
    fl.mse_loss(x, x)   # a kernel call with a team of 3
    assert torch.get_num_threads() == before


def test_results_do_not_depend_on_thread_count(restore_threads):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(300_001).astype(np.float32)
    y = rng.standard_normal(300_001).astype(np.float32)
    results = []
    for n in (1, 2, 4):
        fl.set_num_threads(n)
        loss, grads = fl.value_and_grad(fl.mse_loss, x, y)
        results.append((float(loss), grads["input"].copy()))
    for loss, g in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(g, results[0][1])
