"""The spec's own helpers are tested too: a helper that cannot fail would hide real failures."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spec import strategies as S
from spec.helpers import assert_close, assert_no_less_accurate, assert_shape, central_difference, reproducible


def test_assert_close_detects_a_difference_and_names_the_context():
    with pytest.raises(AssertionError, match=r"mse_loss\(reduction='sum'\)"):
        assert_close(1.0, 1.0 + 1e-6, "mse_loss(reduction='sum')")
    assert_close([1.0, np.nan], [1.0 + 1e-14, np.nan], "nan matches nan")


def test_assert_close_checks_shapes():
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.zeros(3), np.zeros(()), "shape check")


def test_assert_shape_message():
    with pytest.raises(AssertionError, match=r"out.shape=\(3,\), but should be \(\) \[ctx\]"):
        assert_shape(np.zeros(3), (), "ctx")


def test_no_less_accurate_rule():
    exact = np.array([1.0, 2.0])
    assert_no_less_accurate(exact + 1e-8, exact + 1e-6, exact, "within torch's error")
    with pytest.raises(AssertionError, match="exceeds"):
        assert_no_less_accurate(exact + 1e-3, exact + 1e-6, exact, "far worse than torch")


def test_central_difference_is_accurate():
    x = np.array([0.3, -1.2, 2.0])
    g = central_difference(lambda v: float(np.sum(np.sin(v) * v ** 2)), x)
    np.testing.assert_allclose(g, np.cos(x) * x ** 2 + 2 * x * np.sin(x), rtol=1e-9)


def test_reproduction_note_is_attached():
    with pytest.raises(AssertionError) as err:
        with reproducible("mse_loss", np.array([1.0]), np.array([2.0]), reduction="sum"):
            raise AssertionError("boom")
    notes = "\n".join(getattr(err.value, "__notes__", []))
    if hasattr(err.value, "add_note"):
        assert ("fl.mse_loss(np.array([1.0], dtype=np.float64), np.array([2.0], dtype=np.float64), "
                "reduction='sum')") in notes


@given(data=st.data())
def test_layouts_keep_values(data):
    a = data.draw(S.arrays(data.draw(S.shapes()), np.float64))
    b = data.draw(S.layouts(a))
    assert b.shape == a.shape and np.array_equal(a, b)


@given(data=st.data())
def test_broadcastable_shapes_broadcast_back(data):
    shape = data.draw(S.shapes())
    other = data.draw(S.broadcastable_to(shape))
    assert np.broadcast_shapes(shape, other) == tuple(shape)


def test_device_impl_uploads_numbers_and_downloads_results():
    """FASTLOSS_SPEC_IMPL=cupy/fakecupy: numeric NumPy arguments become device arrays (native byte
    order), strings stay host arrays, and the results come back as NumPy arrays."""
    import shutil

    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler (g++) for the CUDA emulation")
    from fastloss._gpu import fakecupy
    from spec.impl import DeviceImpl

    impl = DeviceImpl("fakecupy")
    big_endian = np.array([1.0, 2.0], dtype=">f8")
    up = impl._up(big_endian)
    assert isinstance(up, fakecupy.ndarray) and up.dtype == np.float64 and up.dtype.isnative
    strings = np.array(["a"])
    assert impl._up(strings) is strings
    loss, grads = impl.value_and_grad("mse_loss", big_endian, np.zeros(2), reduction="sum")
    assert type(loss) is np.ndarray and float(loss) == 5.0
    assert type(grads["input"]) is np.ndarray and grads["input"].tolist() == [2.0, 4.0]
    assert impl.module("MSELoss", reduction="sum")(np.ones(3), np.zeros(3)) == 3.0
