"""multilabel_margin_loss: l_n = sum_{j in J} sum_{i not in J} max(0, 1 - x[j] + x[i]) / C, J = labels before -1."""
import numpy as np
import pytest

import spec.reference.margin as ref
from spec.helpers import assert_close
from spec.impl import impl
from spec.margin_embedding_strategies import multilabel_margin_args
from spec.properties import LossSpec, standard_properties

SPEC = LossSpec("multilabel_margin_loss", reference=ref.multilabel_margin_loss, draw_args=multilabel_margin_args(),
                fd_args=multilabel_margin_args(kink_free=True), differentiable=("input",))
globals().update(standard_properties(SPEC))

X = np.array([[0.1, 0.2, 0.4, 0.8]])
Y = np.array([[3, 0, -1, 1]])


def test_docs_example_value():
    # torch docs: 0.85 = ((1-(0.1-0.2)) + (1-(0.1-0.4)) + (1-(0.8-0.2)) + (1-(0.8-0.4))) / 4
    assert_close(impl.loss("multilabel_margin_loss", X, Y), 0.85, "docs example")


def test_only_the_run_before_the_first_minus_one_counts():
    # labels after -1 are ignored: [3, 0, -1, 1] == [3, 0, -1, -1]
    assert_close(impl.loss("multilabel_margin_loss", X, np.array([[3, 0, -1, -1]])), 0.85, "after -1")
    # a leading -1 means no labels: loss 0, gradient 0
    loss, g = impl.value_and_grad("multilabel_margin_loss", X, np.array([[-1, 3, 0, 1]]))
    assert loss == 0.0 and not g["input"].any()


def test_all_classes_are_targets():
    # no non-target class: loss 0
    assert impl.loss("multilabel_margin_loss", X, np.array([[0, 1, 2, 3]])) == 0.0


def test_repeated_label_counts_twice():
    x = np.array([[0.3, 0.1, 0.5, -0.2]])
    loss, g = impl.value_and_grad("multilabel_margin_loss", x, np.array([[1, 1, -1, 0]]), reduction="sum")
    # target 1 (twice) against 0, 2, 3: z = 1.2, 1.4, 0.7 -> 2 * 3.3 / 4 (as torch)
    assert_close(loss, 1.65, "repeated label")
    assert_close(g["input"], [[0.5, -1.5, 0.5, 0.5]], "repeated label gradient")


def test_unbatched_input():
    out = impl.loss("multilabel_margin_loss", X[0], Y[0], reduction="none")
    assert np.shape(out) == () and np.isclose(out, 0.85)


def test_zero_d_input():
    assert impl.loss("multilabel_margin_loss", np.array(0.5), np.array(0), reduction="none") == 0.0


def test_large_row_matches_reference():
    # the O(C log C) kernel on a wide row with many ties and labels
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=(3, 300)).astype(np.float64) * 0.5
    y = np.full((3, 300), -1)
    for r, k in enumerate([0, 17, 150]):
        y[r, :k] = rng.permutation(300)[:k]
    loss, g = impl.value_and_grad("multilabel_margin_loss", x, y, reduction="none")
    rl, rg = ref.multilabel_margin_loss(x, y, reduction="none")
    assert_close(loss, rl, "wide rows")
    assert_close(g["input"], rg["input"], "wide rows gradient")


def test_nan_input():
    x = np.array([[np.nan, 0.2, 0.4]])
    out = impl.loss("multilabel_margin_loss", x, np.array([[1, -1, 0]]), reduction="none")
    # target 1 vs non-targets 0 (nan: z = nan is not > 0) and 2: z = 1.2
    assert_close(out, [1.2 / 3], "nan term skipped")
    _, g = impl.value_and_grad("multilabel_margin_loss", x, np.array([[1, -1, 0]]), reduction="sum")
    assert_close(g["input"], [[0.0, -1 / 3, 1 / 3]], "nan term has no gradient")


@pytest.mark.parametrize("bad", [4, -2])
def test_target_out_of_range_refused(bad):
    with pytest.raises(IndexError, match="target"):
        impl.loss("multilabel_margin_loss", X, np.array([[0, bad, -1, 1]]))


def test_target_out_of_range_after_terminator_refused():
    # torch checks every entry, also after the first -1
    with pytest.raises(IndexError, match="target"):
        impl.loss("multilabel_margin_loss", X, np.array([[0, -1, 7, 1]]))


def test_target_shape_refused():
    with pytest.raises(ValueError, match="target"):
        impl.loss("multilabel_margin_loss", np.zeros((3, 4)), np.zeros((1, 4), dtype=np.int64))


def test_float_target_refused():
    with pytest.raises(TypeError, match="target"):
        impl.loss("multilabel_margin_loss", X, Y.astype(np.float32))


def test_input_shape_refused():
    with pytest.raises(ValueError, match="input"):
        impl.loss("multilabel_margin_loss", np.zeros((2, 3, 4)), np.zeros((2, 3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="input"):
        impl.loss("multilabel_margin_loss", np.zeros((2, 0)), np.zeros((2, 0), dtype=np.int64))


@pytest.mark.torch
def test_wide_rows_match_torch():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 200)).astype(np.float32)
    y = np.full((4, 200), -1)
    for r, k in enumerate([1, 10, 100, 200]):
        y[r, :k] = rng.integers(0, 200, k)
    t = torch.tensor(x, requires_grad=True)
    out = F.multilabel_margin_loss(t, torch.tensor(y), reduction="sum")
    out.backward()
    loss, g = impl.value_and_grad("multilabel_margin_loss", x, y, reduction="sum")
    exact, eg = ref.multilabel_margin_loss(x.astype(np.float64), y, reduction="sum")
    assert abs(loss - exact) <= 4 * abs(out.item() - exact) + 1e-5 * abs(exact)
    assert_close(g["input"], t.grad.numpy(), "grad vs torch", dtype=np.float32)
