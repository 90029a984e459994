"""Reduction strings and torch's legacy ``size_average`` / ``reduce`` arguments, in one place."""
import warnings

REDUCTIONS = ("none", "mean", "sum")


def legacy_reduction(size_average, reduce, emit_warning=True):
    """torch's ``_Reduction.legacy_get_string``: map the deprecated pair to a reduction string.

    ``None`` means True for both; ``reduce=False`` wins (no reduction); otherwise ``size_average``
    chooses between 'mean' and 'sum'.
    """
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
            UserWarning,
            stacklevel=4,
        )
    return ret


def resolve_reduction(reduction, size_average=None, reduce=None, allowed=REDUCTIONS):
    """The effective reduction string; legacy arguments override ``reduction`` as in torch."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    if not isinstance(reduction, str) or reduction not in allowed:
        valid = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"reduction={reduction!r} is not a valid value for reduction (expected one of {valid})")
    return reduction
