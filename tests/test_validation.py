"""Argument coercion: any layout, lists, scalars, torch tensors, byte order; index arguments."""
import numpy as np
import pytest

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
    arrays, originals, out, work = V.float_operands({"input": np.zeros(2, np.float16), "target": np.zeros(2, np.float16)})
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


@pytest.mark.torch
def test_torch_tensors_are_accepted_without_copy_and_detached():
    import torch

    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_(True)
    out = V.as_array(t, "input")
    assert isinstance(out, np.ndarray) and out.shape == (2, 3)
    assert out.ctypes.data == t.data_ptr()


@pytest.mark.torch
def test_bfloat16_tensor_refused_clearly():
    import torch

    with pytest.raises(TypeError, match="bfloat16"):
        V.as_array(torch.zeros(2, dtype=torch.bfloat16), "input")
