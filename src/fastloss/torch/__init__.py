"""fastloss inside PyTorch: ``torch.nn.functional``'s losses (and ``torch.nn``'s loss modules in
:mod:`fastloss.torch.nn`), computed by fastloss's kernels.

    import fastloss.torch as flt
    loss = flt.ctc_loss(log_probs, targets, input_lengths, target_lengths)
    loss.backward()

Tensors in, tensors out, with torch's signatures. Each loss is a torch custom operator
(``torch.ops.fastloss.<name>``) with autograd and fake-tensor registrations, so it works in eager
mode, under ``torch.autograd.gradcheck`` and inside ``torch.compile(fullgraph=True)``. CPU tensors
reach the kernels without copies; tensors on other devices run torch's own function (with a
one-time warning) until the GPU backend takes torch tensors. Needs torch (``fastloss[torch]``);
``import fastloss`` alone never imports it.
"""
try:
    import torch  # noqa: F401  (absolute: the real torch, not this package)
except ImportError as exc:  # pragma: no cover - exercised in a venv without torch
    raise ImportError("fastloss.torch needs PyTorch: pip install 'fastloss[torch]' (or torch itself)") from exc

from . import functional, nn
from .functional import *  # noqa: F401,F403

__all__ = ["functional", "nn", *functional.__all__]
