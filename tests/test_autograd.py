"""value_and_grad: lookup by function or name, wrt, grad_output forms, errors."""
import numpy as np
import pytest

import fastloss as fl


def test_by_function_and_by_name_agree():
    x, y = np.array([1.0, 2.0]), np.array([0.0, 4.0])
    a = fl.value_and_grad(fl.mse_loss, x, y)
    b = fl.value_and_grad("mse_loss", x, y)
    assert float(a[0]) == float(b[0]) == 2.5
    np.testing.assert_array_equal(a[1]["input"], b[1]["input"])
    np.testing.assert_allclose(a[1]["input"], [1.0, -2.0])


def test_unknown_function_refused():
    with pytest.raises(TypeError, match="not a fastloss loss function"):
        fl.value_and_grad(np.sum, np.ones(2))


def test_wrt_limits_the_gradients():
    _, grads = fl.value_and_grad(fl.mse_loss, np.ones(3), np.zeros(3), wrt="input")
    assert set(grads) == {"input"}
    _, grads = fl.value_and_grad(fl.mse_loss, np.ones(3), np.zeros(3))
    assert set(grads) == {"input", "target"}
    np.testing.assert_allclose(grads["target"], -grads["input"])


def test_wrt_naming_a_non_differentiable_argument_refused():
    with pytest.raises(ValueError, match="target"):
        fl.value_and_grad(fl.nll_loss, np.zeros((2, 3)), np.array([0, 1]), wrt=("target",))


def test_weight_gradient_only_on_request():
    x, y, w = np.array([1.0, 2.0]), np.zeros(2), np.array([1.0, 3.0])
    _, grads = fl.value_and_grad(fl.mse_loss, x, y, weight=w, reduction="sum")
    assert set(grads) == {"input", "target"}
    _, grads = fl.value_and_grad(fl.mse_loss, x, y, weight=w, reduction="sum", wrt=("input", "weight"))
    np.testing.assert_allclose(grads["weight"], [1.0, 4.0])  # d sum(w (x - y)^2) / dw


def test_scalar_grad_output_scales_reduced_gradient():
    x, y = np.array([1.0, 3.0]), np.zeros(2)
    _, g1 = fl.value_and_grad(fl.mse_loss, x, y)
    _, g3 = fl.value_and_grad(fl.mse_loss, x, y, grad_output=3.0)
    np.testing.assert_allclose(g3["input"], 3 * g1["input"])


def test_array_grad_output_for_reduction_none():
    x, y = np.array([1.0, 3.0]), np.zeros(2)
    _, g = fl.value_and_grad(fl.mse_loss, x, y, reduction="none", grad_output=np.array([1.0, -1.0]))
    np.testing.assert_allclose(g["input"], [2.0, -6.0])


def test_grad_output_of_wrong_shape_refused():
    with pytest.raises(ValueError, match="grad_output"):
        fl.value_and_grad(fl.mse_loss, np.ones(3), np.zeros(3), reduction="none", grad_output=np.ones(2))
    with pytest.raises(ValueError, match="grad_output"):
        fl.value_and_grad(fl.mse_loss, np.ones(3), np.zeros(3), grad_output=np.ones(3))


def test_gradient_dtype_and_shape_follow_each_argument():
    x = np.ones((2, 3), np.float32)
    y = np.zeros((1, 3), np.float64)
    with pytest.warns(UserWarning):
        loss, grads = fl.value_and_grad(fl.mse_loss, x, y)
    assert loss.dtype == np.float64
    assert grads["input"].dtype == np.float32 and grads["input"].shape == (2, 3)
    assert grads["target"].dtype == np.float64 and grads["target"].shape == (1, 3)
    np.testing.assert_allclose(grads["target"], [[-2 / 3] * 3])


def test_bad_arguments_reported_with_the_loss_name():
    with pytest.raises(TypeError, match="mse_loss"):
        fl.value_and_grad(fl.mse_loss, np.ones(3), np.zeros(3), nonsense=1)


def test_public_signature_hides_the_private_parameter():
    import inspect

    assert "_grad" not in inspect.signature(fl.mse_loss).parameters
