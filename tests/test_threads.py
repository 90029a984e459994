"""Thread controls: set/get, the environment variable, threadpoolctl, and thread-count independence."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastloss as fl


@pytest.fixture
def restore_threads():
    before = fl.get_num_threads()
    yield
    fl.set_num_threads(before)


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


def test_bad_environment_variable_is_reported():
    env = dict(os.environ, FASTLOSS_NUM_THREADS="many")
    out = subprocess.run([sys.executable, "-c", "import fastloss"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "FASTLOSS_NUM_THREADS" in out.stderr


def test_threadpoolctl_sees_and_limits_the_pool(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not fl.has_openmp():
        pytest.skip("serial build: no OpenMP pool to see")
    fl.set_num_threads(2)
    info = threadpoolctl.threadpool_info()
    openmp = [i for i in info if i["user_api"] == "openmp"]
    assert openmp and any(i["num_threads"] == 2 for i in openmp)


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
