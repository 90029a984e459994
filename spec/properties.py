"""The standard properties every loss must satisfy, generated from a :class:`LossSpec`.

A spec module declares its loss once (reference, argument strategy, differentiable arguments)
and gets these tests; it adds its own documented edge cases beside them::

    SPEC = LossSpec("mse_loss", reference=ref.mse_loss, draw_args=pointwise_args(), ...)
    globals().update(standard_properties(SPEC))

Property names are shared across modules, so ``python -m spec.report`` can print a loss x
property matrix.
"""
import dataclasses
import inspect
import warnings
from typing import Callable, Optional, Tuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spec import strategies as S
from spec.helpers import (
    assert_close,
    assert_dtype,
    assert_no_less_accurate,
    assert_shape,
    central_difference,
    reproducible,
)
from spec.impl import impl


@dataclasses.dataclass
class LossSpec:
    name: str
    reference: Callable              # reference(*args, reduction=..., grad_output=..., **kwargs) -> (loss, grads)
    draw_args: Callable              # draw_args(dtype) -> strategy of (args tuple, kwargs dict)
    differentiable: Tuple[str, ...]  # argument names with gradients
    loss_shape: Callable = None      # loss_shape(args, kwargs) -> shape under reduction='none'
    fd_args: Optional[Callable] = None  # strategy of args away from kinks, for finite differences
    # strategy of args for the torch comparison: where torch's answer is well defined (not at a
    # kink or tie within rounding, where either side's gradient is right; no input that makes
    # torch's own autograd underflow)
    torch_args: Optional[Callable] = None
    # loss_scale(args, kwargs) -> per-sample ('none'-shaped) magnitude of the terms a loss adds and
    # cancels (e.g. two distances): a float32 loss is held to float32 rounding of those, not of the
    # (possibly much smaller) result
    loss_scale: Optional[Callable] = None
    legacy: bool = True              # has size_average / reduce
    reductions: Tuple[str, ...] = ("none", "mean", "sum")
    fd_rtol: float = 1e-6
    torch_rtol64: float = 1e-12
    layout_rtol: float = 0.0         # re-laid-out arguments: bit-identical unless another kernel reads them

    def params(self):
        import fastloss

        return list(inspect.signature(getattr(fastloss, self.name)).parameters)


def _call(spec, args, kwargs, **extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impl.loss(spec.name, *args, **kwargs, **extra)


def _vag(spec, args, kwargs, grad_output=None, **extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impl.value_and_grad(spec.name, *args, grad_output=grad_output, **kwargs, **extra)


def _ref(spec, args, kwargs, reduction, grad_output=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return spec.reference(*args, reduction=reduction, grad_output=grad_output, **kwargs)


def _named_args(spec, args, kwargs):
    named = dict(zip(spec.params(), args))
    named.update(kwargs)
    return named


def standard_properties(spec):
    """The generated test functions, keyed by name, for ``globals().update(...)``."""

    @given(data=st.data())
    @pytest.mark.parametrize("reduction", spec.reductions)
    def test_formula_matches_reference(reduction, data):
        args, kwargs = data.draw(spec.draw_args(np.float64))
        with reproducible(spec.name, *args, reduction=reduction, **kwargs):
            out = _call(spec, args, kwargs, reduction=reduction)
            expected, _ = _ref(spec, args, kwargs, reduction)
            assert_close(out, expected, f"{spec.name}(reduction={reduction!r})")

    @given(data=st.data())
    @pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
    @pytest.mark.parametrize("reduction", spec.reductions)
    def test_output_shape_and_dtype(reduction, dtype, data):
        args, kwargs = data.draw(spec.draw_args(dtype))
        with reproducible(spec.name, *args, reduction=reduction, **kwargs):
            out = _call(spec, args, kwargs, reduction=reduction)
            context = f"{spec.name}(reduction={reduction!r}, dtype={np.dtype(dtype).name})"
            expected, _ = _ref(spec, args, kwargs, reduction)
            assert_shape(out, np.shape(expected), context)
            assert_dtype(out, dtype, context)

    @given(data=st.data())
    def test_layouts_do_not_change_value(data):
        args, kwargs = data.draw(spec.draw_args(np.float64))
        moved = [data.draw(S.layouts(a)) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
        with reproducible(spec.name, *args, reduction="none", **kwargs):
            expected = _call(spec, args, kwargs, reduction="none")
            out = _call(spec, moved, kwargs, reduction="none")
            assert_close(out, expected, f"{spec.name} with re-laid-out arguments", rtol=spec.layout_rtol,
                         atol=spec.layout_rtol)

    @given(data=st.data())
    @pytest.mark.parametrize("reduction", spec.reductions)
    def test_gradient_matches_reference(reduction, data):
        args, kwargs = data.draw(spec.draw_args(np.float64))
        ref_loss, _ = _ref(spec, args, kwargs, reduction)
        go = None
        if reduction == "none":
            go = data.draw(S.arrays(np.shape(ref_loss), np.float64, -2, 2))
        elif data.draw(st.booleans()):
            go = np.float64(data.draw(S.finite_floats(-2, 2)))
        with reproducible(spec.name, *args, reduction=reduction, **kwargs):
            loss, grads = _vag(spec, args, kwargs, grad_output=go, reduction=reduction)
            _, expected = _ref(spec, args, kwargs, reduction, grad_output=go)
            named = _named_args(spec, args, kwargs)
            for name in spec.differentiable:
                if name not in expected:
                    continue
                arg = named[name]
                if not (isinstance(arg, np.ndarray) and arg.dtype.kind == "f"):
                    continue
                assert name in grads, f"gradient for {name!r} missing [{spec.name}]"
                assert_shape(grads[name], arg.shape, f"grad {name} of {spec.name}")
                assert_close(grads[name], expected[name], f"grad {name} of {spec.name}(reduction={reduction!r})")

    @given(data=st.data())
    def test_gradient_matches_finite_differences(data):
        args, kwargs = data.draw((spec.fd_args or spec.draw_args)(np.float64))
        with reproducible(spec.name, *args, reduction="sum", **kwargs):
            _, grads = _vag(spec, args, kwargs, reduction="sum")
            params = spec.params()
            for i, a in enumerate(args):
                name = params[i]
                if name not in spec.differentiable or name not in grads:
                    continue

                def f(v, i=i):
                    moved = list(args)
                    moved[i] = v
                    return float(_call(spec, moved, kwargs, reduction="sum"))

                fd = central_difference(f, a)
                assert_close(grads[name], fd, f"grad {name} of {spec.name} vs finite differences",
                             rtol=spec.fd_rtol, atol=spec.fd_rtol)

    def test_invalid_reduction_refused():
        args, kwargs = S.example(spec.draw_args(np.float64))
        with pytest.raises(ValueError, match="reduction"):
            _call(spec, args, kwargs, reduction="avg")

    tests = dict(
        test_formula_matches_reference=test_formula_matches_reference,
        test_output_shape_and_dtype=test_output_shape_and_dtype,
        test_layouts_do_not_change_value=test_layouts_do_not_change_value,
        test_gradient_matches_reference=test_gradient_matches_reference,
        test_gradient_matches_finite_differences=test_gradient_matches_finite_differences,
        test_invalid_reduction_refused=test_invalid_reduction_refused,
    )

    if spec.legacy:
        @pytest.mark.parametrize("size_average,reduce,expected", [
            (None, None, "mean"), (True, None, "mean"), (False, None, "sum"), (None, False, "none"),
            (False, False, "none"), (True, True, "mean"), (False, True, "sum")])
        def test_legacy_size_average_reduce(size_average, reduce, expected):
            # An example on which 'none', 'mean' and 'sum' all differ, so a wrong mapping shows.
            def distinguishes(drawn):
                values = [np.asarray(_ref(spec, drawn[0], drawn[1], r)[0]) for r in ("none", "mean", "sum")]
                return (values[0].size > 1 and np.isfinite(values[0]).all()
                        and not np.isclose(values[1], values[2]))

            args, kwargs = S.example(spec.draw_args(np.float64), accept=distinguishes)
            out = _call(spec, args, kwargs, size_average=size_average, reduce=reduce)
            assert_close(out, _ref(spec, args, kwargs, expected)[0],
                         f"{spec.name}(size_average={size_average}, reduce={reduce}) should act as {expected!r}")
        tests["test_legacy_size_average_reduce"] = test_legacy_size_average_reduce

    @pytest.mark.torch
    @given(data=st.data())
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("reduction", spec.reductions)
    def test_matches_torch(reduction, dtype, data):
        from spec.impl import FastlossImpl, TorchImpl

        args, kwargs = data.draw((spec.torch_args or spec.draw_args)(dtype))
        go = None
        with reproducible(spec.name, *args, reduction=reduction, **kwargs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ours_loss, ours = FastlossImpl().value_and_grad(spec.name, *args, grad_output=go,
                                                                reduction=reduction, **kwargs)
                torch_loss, theirs = TorchImpl().value_and_grad(spec.name, *args, grad_output=go,
                                                                reduction=reduction, **kwargs)
            context = f"{spec.name}(reduction={reduction!r}, dtype={np.dtype(dtype).name}) vs torch"
            assert_shape(ours_loss, np.shape(torch_loss), context)
            assert_dtype(ours_loss, torch_loss.dtype, context)
            if dtype == np.float64:
                assert_close(ours_loss, torch_loss, context, rtol=spec.torch_rtol64, atol=1e-12)
                for name, g in theirs.items():
                    if name in spec.differentiable:
                        assert_close(ours[name], g, "grad " + name + " " + context, rtol=spec.torch_rtol64, atol=1e-12)
            else:
                exact_args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                              for a in args]
                exact_kwargs = {k: (v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
                                for k, v in kwargs.items()}
                exact, exact_grads = _ref(spec, exact_args, exact_kwargs, reduction)
                scale = None
                if spec.loss_scale is not None:
                    scale = np.asarray(spec.loss_scale(exact_args, exact_kwargs), dtype=np.float64)
                    scale = scale if reduction == "none" else (scale.sum() if reduction == "sum" else scale.mean())
                assert_no_less_accurate(ours_loss, torch_loss, exact, context, scale=scale)
                for name, g in theirs.items():
                    if name in spec.differentiable and name in exact_grads:
                        assert_no_less_accurate(ours[name], g, exact_grads[name], "grad " + name + " " + context)

    tests["test_matches_torch"] = test_matches_torch
    return tests
