"""Benchmark setup: 2 threads for both libraries (the figures the issues ask for), unless
FASTLOSS_BENCH_THREADS says otherwise."""
import os

import pytest

import fastloss

THREADS = int(os.environ.get("FASTLOSS_BENCH_THREADS", "2"))


@pytest.fixture(scope="session", autouse=True)
def _threads():
    fastloss.set_num_threads(THREADS)
    try:
        import torch

        torch.set_num_threads(THREADS)
    except ImportError:
        pass
    yield
