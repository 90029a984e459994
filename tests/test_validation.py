"""Argument coercion: any layout, lists, scalars, torch tensors, byte order; index arguments."""
import numpy as np
import pytest

import fastloss
from fastloss import _validation as V


def test_native_array_is_not_copied():
    a = np.ones((3, 4), dtype=np.float32)
    assert V.as_array(a, "input") is a


def test_non_contiguous_view_is_not_copied():
    a = np.ones((6, 8))[::2, ::-1]
    assert np.shares_memory(V.as_array(a, "input"), a)


def test_lists_and_scalars():
    assert V.as_array([1.0, 2.0], "input").dtype == np.float64
    assert V.as_array(2.5, "input").shape == ()


def test_non_native_byte_order_becomes_native_with_same_values():
    a = np.arange(5, dtype=">f8")
    out = V.as_array(a, "input")
    assert out.dtype.isnative and np.array_equal(out, a)


def test_object_and_ragged_inputs_refused():
    with pytest.raises(TypeError, match="input"):
        V.as_array([[1.0], [1.0, 2.0]], "input")
    with pytest.raises(TypeError, match="input"):
        V.as_array(np.array([None, 1.0], dtype=object), "input")


def test_check_floating_names_argument_and_dtype():
    with pytest.raises(TypeError, match=r"input must be a floating-point array .* got dtype int32"):
        V.check_floating(np.zeros(2, np.int32), "input")


def test_float_operands_promotes_like_torch_and_computes_float16_in_float32():
    arrays, originals, out, work = V.float_operands({"input": np.zeros(2, np.float16),
                                                      "target": np.zeros(2, np.float16)})
    assert out == np.float16 and work == np.float32 and arrays["input"].dtype == np.float32
    assert originals["input"].dtype == np.float16
    _, _, out, work = V.float_operands({"input": np.zeros(2, np.float32), "target": np.zeros(2, np.float64)})
    assert out == np.float64 and work == np.float64
    _, _, out, _ = V.float_operands({"input": np.zeros(2, np.float32), "target": np.zeros(2, np.int64)},
                                    allow_integer=("target",))
    assert out == np.float32


def test_float32_is_not_upcast():
    arrays, _, out, work = V.float_operands({"input": np.zeros(4, np.float32), "target": np.zeros(4, np.float32)})
    assert out == work == np.float32 and arrays["input"].dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint16, np.uint32, np.uint64])
def test_index_array_accepts_every_integer_dtype(dtype):
    out = V.index_array(np.array([0, 3, 1], dtype=dtype), "target")
    assert out.dtype == np.int64 and out.tolist() == [0, 3, 1]


def test_index_array_refuses_floats():
    with pytest.raises(TypeError, match="target must be an integer array"):
        V.index_array(np.array([0.0, 1.0]), "target")


def test_check_index_range_names_position_and_value():
    with pytest.raises(IndexError, match=r"target\[1, 0\] = 7 is out of bounds for 5 classes"):
        V.check_index_range(np.array([[0, 1], [7, 2]]), "target", 0, 5)
    V.check_index_range(np.array([0, -100, 4]), "target", 0, 5, ignore=-100)


def test_hyper_parameter_checks():
    assert V.as_float(np.float32(0.5), "margin") == 0.5
    with pytest.raises(TypeError, match="margin"):
        V.as_float("1", "margin")
    with pytest.raises(ValueError, match="beta must be non-negative"):
        V.as_float(-1.0, "beta", minimum=0)
    with pytest.raises(TypeError, match="blank"):
        V.as_int(1.5, "blank")
    assert V.as_int(np.int64(3), "blank") == 3


@pytest.mark.parametrize("value", [1 + 0j, np.complex64(1), np.complex128(0.5), np.array(1 + 0j)])
def test_complex_hyper_parameters_refused(value):
    # also with a zero imaginary part (NumPy's float() of a complex scalar would drop it with a warning)
    with pytest.raises(TypeError, match="margin must be a real number"):
        V.as_float(value, "margin")
    with pytest.raises(TypeError, match="p must be a real number"):
        fastloss.multi_margin_loss(np.zeros((2, 3)), np.array([0, 1]), p=value)


def test_as_float_accepts_real_0d_arrays_and_numpy_scalars():
    assert V.as_float(np.array(0.25), "eps") == 0.25
    assert V.as_float(np.int32(3), "eps") == 3.0
    assert type(V.as_float(2, "eps")) is float


@pytest.mark.parametrize("n", [1, 5, 64, 65, 1000])
def test_index_bounds_and_range_check_small_and_large(n):
    # both sides of the small-array path (Python min/max) and the NumPy one
    idx = (np.arange(n, dtype=np.int64) * 7) % 5
    assert V.index_bounds(idx) == (int(idx.min()), int(idx.max()))
    assert V.index_bounds(idx[::-1].reshape(1, n)) == (int(idx.min()), int(idx.max()))
    V.check_index_range(idx, "target", 0, 5)
    bad = idx.copy()
    bad[n // 2] = 5
    with pytest.raises(IndexError, match=rf"target\[{n // 2}\] = 5 is out of bounds"):
        V.check_index_range(bad, "target", 0, 5)


@pytest.mark.torch
def test_torch_tensors_are_accepted_without_copy():
    import torch

    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    out = V.as_array(t, "input")
    assert isinstance(out, np.ndarray) and out.shape == (2, 3)
    assert out.ctypes.data == t.data_ptr()
    # a tensor that requires grad would lose its gradient: refused, with what to do instead
    with pytest.raises(TypeError, match=r"input is a torch tensor with requires_grad=True.*input\.detach\(\)"):
        V.as_array(t.requires_grad_(True), "input")
    assert V.as_array(t.detach(), "input").ctypes.data == t.data_ptr()


@pytest.mark.torch
def test_bfloat16_tensor_refused_clearly():
    import torch

    with pytest.raises(TypeError, match="bfloat16"):
        V.as_array(torch.zeros(2, dtype=torch.bfloat16), "input")


def test_none_is_a_missing_required_array():
    with pytest.raises(TypeError, match="^target is required: expected an array, got None$"):
        V.as_array(None, "target")
    arrays, _, _, _ = V.float_operands({"input": np.zeros(2), "weight": None})
    assert arrays["weight"] is None  # optional weights may be absent
    with pytest.raises(TypeError, match="^var is required"):
        V.float_operands({"input": np.zeros(2), "var": None})


def test_ragged_sequence_is_named():
    with pytest.raises(TypeError, match=r"^weight: cannot convert list to an array \(.*inhomogeneous"):
        V.as_array([[1.0], [1.0, 2.0]], "weight")


def test_int_and_float_hyper_parameters_out_of_range():
    assert V.as_int(2 ** 63 - 1, "ignore_index") == 2 ** 63 - 1
    assert V.as_int(np.uint64(5), "blank") == 5
    with pytest.raises(ValueError, match=r"^ignore_index=9223372036854775808 is out of the range of a 64-bit integer$"):
        V.as_int(2 ** 63, "ignore_index")
    with pytest.raises(ValueError, match=r"^blank=-9223372036854775809 is out"):
        V.as_int(-2 ** 63 - 1, "blank")
    with pytest.raises(ValueError, match=r"^margin=1000.* is out of the range of a float$"):
        V.as_float(10 ** 400, "margin")
    assert V.as_float(2 ** 1000, "margin") == 2.0 ** 1000


def test_promotion_follows_torch():
    f32, f64 = np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float64)
    i64, b = np.zeros((2, 2), np.int64), np.zeros((2, 2), bool)
    out = lambda named, **kw: V.float_operands(named, allow_integer=tuple(named), **kw)[2]  # noqa: E731
    assert out({"input": f32, "target": f64}) == np.float64
    assert out({"input": f32, "target": i64}) == np.float32
    assert out({"input": i64, "target": b}) == np.float32          # no floating operand: torch's default dtype
    assert out({"input": f32, "target": f64}, promote=("input",)) == np.float32  # huber: the input's dtype
    assert out({"input": f32, "target": np.float64(1.0)}) == np.float32        # 0-d: lower priority
    assert out({"input": f32, "target": np.array(1.0)}, zero_dim_promotes=True) == np.float64
    assert out({"input": f32, "target": 1.0}) == np.float32                    # Python scalar: never
    assert out({"input": np.array(1.0, np.float32), "target": 1.0}) == np.float32
    assert out({"input": i64, "target": 2.5}) == np.float32
    arrays, originals, _, work = V.float_operands({"input": f32, "target": f64}, promote=("input",))
    assert arrays["target"].dtype == work == np.float32 and originals["target"].dtype == np.float64


def test_allow_integer_refuses_other_kinds():
    with pytest.raises(TypeError, match="target must be a numeric array, got dtype <U1"):
        V.float_operands({"input": np.zeros(2), "target": np.array(["a", "b"])}, allow_integer=("target",))
    with pytest.raises(TypeError, match="input must be a floating-point array"):
        V.float_operands({"input": np.zeros(2, np.int64)})
    with pytest.raises(TypeError, match="input must be a floating-point array"):
        V.float_operands({"input": np.zeros(2, np.longdouble)}, allow_integer=("input",))
