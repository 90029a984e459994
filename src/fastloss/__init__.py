"""fastloss: every PyTorch loss function, with its gradient, as a fast NumPy-native library.

    import fastloss as fl
    loss = fl.cross_entropy(logits, labels)
    loss, grads = fl.value_and_grad(fl.cross_entropy, logits, labels)
"""
from . import functional, nn
from ._autograd import value_and_grad
from ._threads import get_num_threads, has_openmp, set_num_threads
from .functional import *  # noqa: F401,F403

__version__ = "0.1.0"
__all__ = ["functional", "nn", "value_and_grad", "set_num_threads", "get_num_threads", "has_openmp",
           *functional.__all__]
