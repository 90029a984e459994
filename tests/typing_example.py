"""A small typed use of the public API; tests/test_packaging.py runs mypy on it (and on a broken
copy, to show that the stubs are what mypy checks against)."""
from typing import Dict

import numpy as np
from numpy.typing import NDArray

import fastloss as fl


def train_step(logits: NDArray[np.float32], labels: NDArray[np.int64]) -> float:
    loss, grads = fl.value_and_grad(fl.cross_entropy, logits, labels, label_smoothing=0.1)
    gradient: NDArray[np.floating] = grads["input"]
    assert gradient.shape == logits.shape
    return float(loss)


def ctc(log_probs: NDArray[np.float32]) -> Dict[str, NDArray[np.floating]]:
    criterion = fl.nn.CTCLoss(blank=0, zero_infinity=True)
    criterion(log_probs, [[1, 2]], [log_probs.shape[0]], [2])
    return criterion.backward()


threads: int = fl.get_num_threads()
parallel: bool = fl.has_openmp()
value = fl.functional.mse_loss(np.zeros(3), np.ones(3), reduction="sum")
