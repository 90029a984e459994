"""Independent float64 NumPy references, written from torch's documented formulas.

One module per loss family. Each reference returns ``(loss, grads)``: the loss under the given
reduction and the analytic gradient of ``sum(loss * grad_output)`` for each differentiable
argument (``grad_output`` = ones unless given). They are deliberately plain: readable like the
documentation, no performance tricks.
"""
