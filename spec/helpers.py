"""Assertion helpers, finite differences and reproduction notes for the spec modules.

Failure messages say what was expected, e.g.
``out.shape=(3,), but should be () [mse_loss(reduction='sum')]``, and every failing example
carries a paste-able reproduction snippet (``add_note``).
"""
import numpy as np

TOL = {np.dtype(np.float64): dict(rtol=1e-11, atol=1e-12), np.dtype(np.float32): dict(rtol=2e-5, atol=1e-6)}


def call_repr(name, args, kwargs):
    parts = [_value_repr(a) for a in args] + [f"{k}={_value_repr(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _value_repr(v):
    if isinstance(v, np.ndarray):
        return f"np.array({v.tolist()!r}, dtype=np.{v.dtype.newbyteorder('=').name})"
    return repr(v)


def note_repro(exc, name, args, kwargs):
    """Attach ``import fastloss as fl; fl.<name>(...)`` to a failing example."""
    if hasattr(exc, "add_note"):
        exc.add_note("Reproduce with:\n    import numpy as np, fastloss as fl\n    fl." + call_repr(name, args, kwargs))


class reproducible:
    """Context manager: any assertion inside gets the reproduction snippet of this call."""

    def __init__(self, name, *args, **kwargs):
        self.name, self.args, self.kwargs = name, args, kwargs

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            note_repro(exc, self.name, self.args, self.kwargs)
        return False


def assert_shape(out, shape, context):
    assert tuple(np.shape(out)) == tuple(shape), \
        f"out.shape={tuple(np.shape(out))}, but should be {tuple(shape)} [{context}]"


def assert_dtype(out, dtype, context):
    assert np.asarray(out).dtype == np.dtype(dtype), \
        f"out.dtype={np.asarray(out).dtype}, but should be {np.dtype(dtype)} [{context}]"


def assert_close(actual, expected, context, dtype=None, rtol=None, atol=None):
    """Values agree to the dtype's tolerance (nan matches nan, inf matches inf of the same sign)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    tol = dict(TOL[np.dtype(dtype or np.float64)])
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    assert actual.shape == expected.shape, f"shape {actual.shape}, but should be {expected.shape} [{context}]"
    ok = np.isclose(actual, expected, equal_nan=True, **tol)
    if not ok.all():
        i = np.unravel_index(int(np.argmin(ok)), ok.shape) if ok.ndim else ()
        raise AssertionError(f"value {actual[i]!r} at {i}, but should be {expected[i]!r} "
                             f"(rtol={tol['rtol']}, atol={tol['atol']}; {int((~ok).sum())} of {ok.size} differ) "
                             f"[{context}]")


def assert_no_less_accurate(actual, torch_value, exact, context, slack=4.0, floor=2.5e-7, scale=None):
    """float32 rule: |actual - exact| <= slack * |torch - exact| + floor * max(1, |exact|, scale).

    The floor is two float32 ulps at 1: a correctly rounded float32 result may be that far from a
    float64 reference even where torch happens to round the other way. ``scale``: the magnitude of
    terms the loss cancels (two distances), whose float32 rounding the result inherits, however
    lucky torch's rounding was.
    """
    actual, torch_value, exact = (np.asarray(a, dtype=np.float64) for a in (actual, torch_value, exact))
    with np.errstate(invalid="ignore"):  # inf - inf where the loss is infinite: not compared below
        err = np.abs(actual - exact)
        magnitude = np.maximum(1.0, np.abs(exact))
        if scale is not None:
            magnitude = np.maximum(magnitude, scale)
        bound = slack * np.abs(torch_value - exact) + floor * magnitude
    # Where torch's float32 result is nan but the exact one is finite, torch sets no bar: hold
    # ours to float32 accuracy instead.
    bound = np.where(np.isnan(torch_value), 1e-5 * np.maximum(1.0, np.abs(exact)), bound)
    finite = np.isfinite(exact)
    bad = finite & ~(err <= bound)
    assert not bad.any(), (f"float32 error {err[bad].max()!r} exceeds {slack}x torch's float32 error "
                           f"(bound {bound[bad].min()!r}) [{context}]")
    assert np.array_equal(np.isnan(actual), np.isnan(exact)) or not finite.all(), f"nan pattern differs [{context}]"


def central_difference(f, x, h=None, order=4):
    """d f / d x by 4th-order central differences (f returns a float, x a float64 array)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat = x.reshape(-1)
    gflat = g.reshape(-1)
    for i in range(flat.size):
        step = h if h is not None else 1e-4 * max(1.0, abs(flat[i]))
        orig = flat[i]
        vals = []
        for k in (2, 1, -1, -2):
            flat[i] = orig + k * step
            vals.append(float(f(x)))
        flat[i] = orig
        gflat[i] = (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * step)
    return g
