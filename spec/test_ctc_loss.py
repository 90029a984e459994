"""ctc_loss: -log of the summed probability of every alignment, torch's reductions, formats and
gradient convention (exp(log_probs) - posterior), refusals and extreme inputs."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spec.reference.ctc as ref
from spec import strategies as S
from spec.helpers import (
    assert_close,
    assert_dtype,
    assert_no_less_accurate,
    assert_shape,
    central_difference,
    reproducible,
)
from spec.impl import impl, torch_available

REDUCTIONS = ("none", "mean", "sum")


def log_softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@st.composite
def ctc_args(draw, dtype=np.float64, max_t=7, max_c=5, max_s=4, batched=None, allow_blank_label=False):
    """(args, kwargs, logits) for a small CTC problem: padded or concatenated targets, any blank."""
    T = draw(st.integers(1, max_t))
    C = draw(st.integers(2, max_c))
    N = draw(st.integers(1, 3))
    S_ = draw(st.integers(0, max_s))
    blank = draw(st.integers(0, C - 1))
    if batched is None:
        batched = draw(st.booleans())
    if not batched:
        N = 1
    logits = draw(S.arrays((T, N, C), np.float64, -3, 3))
    lp = log_softmax(logits).astype(dtype)
    labels = [k for k in range(C) if allow_blank_label or k != blank]
    targets = np.array(draw(st.lists(st.lists(st.sampled_from(labels), min_size=S_, max_size=S_),
                                     min_size=N, max_size=N)), dtype=np.int64).reshape(N, S_)
    tl = np.array([draw(st.integers(0, S_)) for _ in range(N)], dtype=np.int64)
    il = np.array([draw(st.integers(0, T)) for _ in range(N)], dtype=np.int64)
    concatenated = draw(st.booleans())
    tg = np.concatenate([targets[n, :tl[n]] for n in range(N)]) if concatenated else targets
    zero_infinity = draw(st.booleans())
    kwargs = dict(blank=blank, zero_infinity=zero_infinity)
    if batched:
        return (lp, tg, il, tl), kwargs, logits
    if concatenated:
        return (lp[:, 0], tg, np.int64(il[0]), np.int64(tl[0])), kwargs, logits[:, 0]
    return (lp[:, 0], targets, il[:1], tl[:1]), kwargs, logits[:, 0]


def _loss(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impl.loss("ctc_loss", *args, **kwargs)


def _vag(*args, **kwargs):
    return impl.value_and_grad("ctc_loss", *args, **kwargs)


# --- the standard properties, written for CTC's index targets and length arguments ---------------

@given(data=st.data())
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_formula_matches_reference(reduction, data):
    args, kwargs, _ = data.draw(ctc_args(allow_blank_label=True))
    with reproducible("ctc_loss", *args, reduction=reduction, **kwargs):
        out = _loss(*args, reduction=reduction, **kwargs)
        expected, _ = ref.ctc_loss(*args, reduction=reduction, **kwargs)
        assert_close(out, expected, f"ctc_loss(reduction={reduction!r})", rtol=1e-10, atol=1e-12)


@given(data=st.data())
def test_loss_is_minus_log_of_brute_force_sum_over_alignments(data):
    args, kwargs, _ = data.draw(ctc_args(max_t=5, max_c=3, max_s=3, batched=True))
    lp, tg, il, tl = args
    with reproducible("ctc_loss", *args, reduction="none", **kwargs):
        out = _loss(*args, reduction="none", blank=kwargs["blank"])
        for n, (lp_n, target) in enumerate(ref.split_samples(lp, tg, il, tl)[-1]):
            expected = ref.brute_force_nll(lp_n, target, kwargs["blank"])
            assert_close(out[n], expected, f"sample {n} vs enumeration of all alignments", rtol=1e-10, atol=1e-12)


@given(data=st.data())
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_output_shape_and_dtype(reduction, dtype, data):
    args, kwargs, _ = data.draw(ctc_args(dtype=dtype))
    out = _loss(*args, reduction=reduction, **kwargs)
    expected, _ = ref.ctc_loss(*args, reduction=reduction, **kwargs)
    context = f"ctc_loss(reduction={reduction!r}, dtype={np.dtype(dtype).name})"
    assert_shape(out, np.shape(expected), context)
    assert_dtype(out, dtype, context)
    _, grads = _vag(*args, reduction=reduction, **kwargs)
    assert_shape(grads["log_probs"], args[0].shape, "grad " + context)
    assert_dtype(grads["log_probs"], dtype, "grad " + context)


@given(data=st.data())
def test_layouts_do_not_change_value(data):
    args, kwargs, _ = data.draw(ctc_args())
    moved = (data.draw(S.layouts(args[0])),) + args[1:]
    expected = _loss(*args, reduction="none", **kwargs)
    out = _loss(*moved, reduction="none", **kwargs)
    assert_close(out, expected, "ctc_loss with re-laid-out log_probs", rtol=0, atol=0)
    # lengths and targets of other integer types and containers
    lp, tg, il, tl = args
    out2 = _loss(lp, tg.astype(np.int32), np.asarray(il).astype(np.int16).tolist() if np.ndim(il) else int(il),
                 np.asarray(tl).astype(np.uint8).tolist() if np.ndim(tl) else int(tl), reduction="none", **kwargs)
    assert_close(out2, expected, "ctc_loss with int32 targets and list lengths", rtol=0, atol=0)


@given(data=st.data())
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradient_matches_reference(reduction, data):
    args, kwargs, _ = data.draw(ctc_args())
    ref_loss, _ = ref.ctc_loss(*args, reduction=reduction, **kwargs)
    go = None
    if reduction == "none":
        go = data.draw(S.arrays(np.shape(ref_loss), np.float64, -2, 2))
    elif data.draw(st.booleans()):
        go = np.float64(data.draw(S.finite_floats(-2, 2)))
    with reproducible("ctc_loss", *args, reduction=reduction, **kwargs):
        loss, grads = _vag(*args, grad_output=go, reduction=reduction, **kwargs)
        _, expected = ref.ctc_loss(*args, reduction=reduction, grad_output=go, **kwargs)
        assert_close(loss, ref_loss, "value of value_and_grad", rtol=1e-10, atol=1e-12)
        assert_close(grads["log_probs"], expected["log_probs"], f"grad log_probs (reduction={reduction!r})",
                     rtol=1e-9, atol=1e-11)


@given(data=st.data())
def test_gradient_matches_finite_differences(data):
    """torch's convention: the returned gradient is d loss / d logits for log_probs = log_softmax(logits)."""
    args, kwargs, logits = data.draw(ctc_args())
    lp, rest = args[0], args[1:]
    kwargs = dict(kwargs, zero_infinity=True)  # infeasible samples: loss 0, gradient 0
    with reproducible("ctc_loss", *args, reduction="sum", **kwargs):
        _, grads = _vag(lp, *rest, reduction="sum", **kwargs)

        def f(z):
            return float(_loss(log_softmax(z), *rest, reduction="sum", **kwargs))

        fd = central_difference(f, logits)
        assert_close(grads["log_probs"], fd, "grad vs finite differences through log_softmax", rtol=1e-6, atol=1e-6)


def test_invalid_reduction_refused():
    lp = log_softmax(np.zeros((3, 1, 3)))
    with pytest.raises(ValueError, match="reduction"):
        _loss(lp, np.array([[1]]), [3], [1], reduction="avg")


@pytest.mark.torch
@given(data=st.data())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_torch(reduction, dtype, data):
    from spec.impl import FastlossImpl, TorchImpl

    args, kwargs, _ = data.draw(ctc_args(dtype=dtype, max_t=12, max_c=6, max_s=5))
    if args[0].ndim == 2 and args[1].ndim == 1 and np.ndim(args[2]) == 0:
        args = args[:2] + (np.asarray(args[2]), np.asarray(args[3]))  # torch wants tensors, not ints
    with reproducible("ctc_loss", *args, reduction=reduction, **kwargs):
        ours_loss, ours = FastlossImpl().value_and_grad("ctc_loss", *args, reduction=reduction, **kwargs)
        torch_loss, theirs = TorchImpl().value_and_grad("ctc_loss", *args, reduction=reduction, **kwargs)
        context = f"ctc_loss(reduction={reduction!r}, dtype={np.dtype(dtype).name}) vs torch"
        assert_shape(ours_loss, np.shape(torch_loss), context)
        assert_dtype(ours_loss, torch_loss.dtype, context)
        if dtype == np.float64:
            assert_close(ours_loss, torch_loss, context, rtol=1e-9, atol=1e-12)
            assert_close(ours["log_probs"], theirs["log_probs"], "grad " + context, rtol=1e-9, atol=1e-12)
        else:
            exact_args = (args[0].astype(np.float64),) + args[1:]
            exact, exact_grads = ref.ctc_loss(*exact_args, reduction=reduction, **kwargs)
            assert_no_less_accurate(ours_loss, torch_loss, exact, context)
            assert_no_less_accurate(ours["log_probs"], theirs["log_probs"], exact_grads["log_probs"], "grad " + context)


# --- documented semantics ---------------------------------------------------------------------------

def test_docs_example_shapes_and_reductions():
    rng = np.random.default_rng(0)
    T, N, C, S_ = 50, 16, 20, 30
    lp = log_softmax(rng.standard_normal((T, N, C)))
    tg = rng.integers(1, C, (N, S_))
    il = np.full(N, T)
    tl = rng.integers(10, S_, N)
    none = _loss(lp, tg, il, tl, reduction="none")
    assert none.shape == (N,)
    assert_close(_loss(lp, tg, il, tl), (none / tl).mean(), "mean = mean(loss / target_length)")
    assert_close(_loss(lp, tg, il, tl, reduction="sum"), none.sum(), "sum")
    expected, _ = ref.ctc_loss(lp[:, :3], tg[:3], il[:3], tl[:3], reduction="none")
    assert_close(none[:3], expected, "docs example vs reference", rtol=1e-10)


def test_mean_divides_by_target_length_clamped_to_one():
    lp = log_softmax(np.random.default_rng(1).standard_normal((4, 2, 3)))
    none = _loss(lp, np.array([[1, 2], [1, 1]]), [4, 4], [0, 2], reduction="none")
    assert_close(_loss(lp, np.array([[1, 2], [1, 1]]), [4, 4], [0, 2]), (none[0] / 1 + none[1] / 2) / 2, "mean")


def test_infeasible_target_is_inf_with_nan_gradient_and_zero_infinity_zeroes_both():
    lp = log_softmax(np.random.default_rng(2).standard_normal((3, 2, 3)))
    tg = np.array([[1, 1], [1, 2]])
    loss, grads = _vag(lp, tg, [2, 3], [2, 2], reduction="none")  # [1, 1] needs 3 steps
    assert loss[0] == np.inf and np.isfinite(loss[1])
    assert np.isnan(grads["log_probs"][:2, 0]).all() and (grads["log_probs"][2:, 0] == 0).all()
    loss, grads = _vag(lp, tg, [2, 3], [2, 2], reduction="none", zero_infinity=True)
    assert loss[0] == 0 and (grads["log_probs"][:, 0] == 0).all()
    assert np.isfinite(grads["log_probs"][:, 1]).all()


def test_input_length_zero():
    lp = log_softmax(np.zeros((3, 2, 3)))
    out = _loss(lp, np.array([[1], [1]]), [0, 0], [0, 1], reduction="none")
    assert out[0] == 0 and np.signbit(out[0]) and out[1] == np.inf  # torch: -0.0 and inf


def test_rows_past_input_length_have_zero_gradient():
    lp = log_softmax(np.random.default_rng(3).standard_normal((6, 2, 4)))
    _, grads = _vag(lp, np.array([[1, 2], [3, 3]]), [4, 6], [2, 2], reduction="sum")
    assert (grads["log_probs"][4:, 0] == 0).all() and (grads["log_probs"][:4, 0] != 0).any()


def test_unbatched_forms():
    rng = np.random.default_rng(4)
    lp = log_softmax(rng.standard_normal((6, 4)))
    batched = _loss(lp[:, None], np.array([[1, 2, 2]]), [6], [3], reduction="none")
    for tg, il, tl in [(np.array([1, 2, 2]), np.int64(6), np.int64(3)), (np.array([[1, 2, 2]]), [6], [3]),
                       (np.array([1, 2, 2]), 6, 3), (np.array([1, 2, 2]), np.array([6]), (3,))]:
        out = _loss(lp, tg, il, tl, reduction="none")
        assert out.shape == ()
        assert_close(out, batched[0], "unbatched vs batched", rtol=0, atol=0)
    assert_close(_loss(lp, np.array([1, 2, 2]), 6, 3), batched[0] / 3, "unbatched mean")
    _, grads = _vag(lp, np.array([1, 2, 2]), 6, 3)
    assert grads["log_probs"].shape == (6, 4)


def test_blank_inside_target_is_accepted_as_a_label():
    """torch runs its lattice with the blank as an ordinary label there (not the collapse rule)."""
    lp = log_softmax(np.random.default_rng(5).standard_normal((5, 1, 4)))
    out = _loss(lp, np.array([[0, 2]]), [5], [2], reduction="none")
    expected, _ = ref.ctc_loss(lp, np.array([[0, 2]]), [5], [2], reduction="none")
    assert_close(out, expected, "blank inside the target")


@pytest.mark.parametrize("blank", [0, 2, 4])
def test_any_blank_index(blank):
    lp = log_softmax(np.random.default_rng(6).standard_normal((7, 2, 5)))
    labels = [k for k in range(5) if k != blank]
    tg = np.array([[labels[0], labels[1], labels[1]], [labels[2], labels[3], labels[0]]])
    out, grads = _vag(lp, tg, [7, 6], [3, 2], blank=blank, reduction="none")
    expected, eg = ref.ctc_loss(lp, tg, [7, 6], [3, 2], blank=blank, reduction="none")
    assert_close(out, expected, f"blank={blank}")
    assert_close(grads["log_probs"], eg["log_probs"], f"grad blank={blank}", rtol=1e-9)


def test_nn_module():
    import fastloss

    lp = log_softmax(np.random.default_rng(7).standard_normal((5, 2, 4)))
    tg, il, tl = np.array([[1, 2], [3, 3]]), [5, 5], [2, 2]
    crit = fastloss.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert_close(crit(lp, tg, il, tl), _loss(lp, tg, il, tl, reduction="sum"), "CTCLoss")
    _, expected = _vag(lp, tg, il, tl, reduction="sum", zero_infinity=True)
    assert_close(crit.backward()["log_probs"], expected["log_probs"], "CTCLoss.backward")


@given(data=st.data())
def test_blank_labels_value_matches_torch_and_gradient_is_exact(data):
    """A target holding the blank: the loss is torch's; the gradient is the exact derivative of
    that loss (finite differences through log_softmax). torch's own gradient disagrees with its
    loss when the target ends with the blank label, so it is not compared."""
    args, kwargs, logits = data.draw(ctc_args(max_t=6, max_c=3, max_s=3, batched=True, allow_blank_label=True))
    kwargs = dict(kwargs, zero_infinity=True)
    lp, rest = args[0], args[1:]
    with reproducible("ctc_loss", *args, reduction="sum", **kwargs):
        _, grads = _vag(lp, *rest, reduction="sum", **kwargs)
        fd = central_difference(lambda z: float(_loss(log_softmax(z), *rest, reduction="sum", **kwargs)), logits)
        assert_close(grads["log_probs"], fd, "grad with blank labels vs finite differences", rtol=1e-6, atol=1e-6)
        if torch_available():
            from spec.impl import TorchImpl

            theirs = TorchImpl().loss("ctc_loss", *args, reduction="none", **kwargs)
            assert_close(_loss(*args, reduction="none", **kwargs), theirs, "blank labels vs torch", rtol=1e-9)


# --- refusals ----------------------------------------------------------------------------------------

LP = log_softmax(np.zeros((5, 2, 4)))
TG = np.array([[1, 2], [1, 1]])


@pytest.mark.parametrize("label", [4, -1, 100])
def test_target_label_out_of_range_names_sample_and_position(label):
    tg = TG.copy()
    tg[1, 1] = label
    with pytest.raises(IndexError, match=r"sample 1 at position 1"):
        _loss(LP, tg, [5, 5], [2, 2])
    with pytest.raises(IndexError, match=r"sample 1 at position 1"):
        _loss(LP, np.array([1, 2, 1, label]), [5, 5], [2, 2])


def test_padding_past_target_length_is_not_checked():
    tg = np.array([[1, 99], [1, 1]])
    assert np.isfinite(_loss(LP, tg, [5, 5], [1, 2]))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: _loss(LP, TG, [6, 5], [2, 2]), ValueError, "input_lengths"),
    (lambda: _loss(LP, TG, [-1, 5], [2, 2]), ValueError, "input_lengths"),
    (lambda: _loss(LP, TG, [5, 5], [-1, 2]), ValueError, "target_lengths"),
    (lambda: _loss(LP, TG, [5, 5], [3, 2]), ValueError, "target_lengths"),
    (lambda: _loss(LP, np.array([1, 2, 1]), [5, 5], [2, 2]), ValueError, "sum"),
    (lambda: _loss(LP, np.array([1, 2, 1, 1, 3]), [5, 5], [2, 2]), ValueError, "sum"),
    (lambda: _loss(LP, TG, [5, 5], [2, 2], blank=4), ValueError, "blank"),
    (lambda: _loss(LP, TG, [5, 5], [2, 2], blank=-1), ValueError, "blank"),
    (lambda: _loss(LP, TG, [5, 5, 5], [2, 2]), ValueError, "input_lengths"),
    (lambda: _loss(LP, TG, [5, 5], [2]), ValueError, "target_lengths"),
    (lambda: _loss(LP, TG, 5, [2, 2]), ValueError, "input_lengths"),
    (lambda: _loss(LP, TG, [[5, 5, 5]], [2, 2]), ValueError, "input_lengths"),
    (lambda: _loss(LP[None], TG, [5, 5], [2, 2]), ValueError, "log_probs"),
    (lambda: _loss(LP[:, 0, 0], TG, [5, 5], [2, 2]), ValueError, "log_probs"),
    (lambda: _loss(LP, TG[None], [5, 5], [2, 2]), ValueError, "targets"),
    (lambda: _loss(LP, np.array([[1, 2], [1, 1], [1, 1]]), [5, 5], [2, 2]), ValueError, "targets"),
    (lambda: _loss(LP[:, :0], TG[:0], [], []), ValueError, "empty"),
    (lambda: _loss(LP, TG, np.array([5.0, 5.0]), [2, 2]), TypeError, "input_lengths"),
    (lambda: _loss(LP.astype(np.int64), TG, [5, 5], [2, 2]), TypeError, "log_probs"),
    (lambda: _loss(LP, TG, [5, 5], [2, 2], blank=0.5), TypeError, "blank"),
    (lambda: _loss(LP, TG, [5, 5], [2, 2], zero_infinity=1), TypeError, "zero_infinity"),
])
def test_refusals(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_float_targets_are_truncated_like_torch():
    assert_close(_loss(LP, np.array([[1.5, 2.0], [1.0, 1.0]]), [5, 5], [2, 2]), _loss(LP, TG, [5, 5], [2, 2]),
                 "float targets")


# --- numerics: long inputs, extreme log-probabilities, repeats, tight lengths -------------------------

def _ref_nll(lp, target, blank=0):
    return ref.forward_backward(lp, target, blank)[0]


def test_minus_1e4_log_probs_on_the_only_path_stay_finite():
    lp = np.full((4, 1, 3), -1e4)
    lp[:, 0, 0] = 0.0
    # target [1, 2] in 4 steps: every alignment emits 1 and 2 with log-prob -1e4
    out = _loss(lp, np.array([[1, 2]]), [4], [2], reduction="none")
    expected = _ref_nll(lp[:, 0], [1, 2])
    assert np.isfinite(out[0]) and out[0] > 1e4
    assert_close(out, [expected], "-1e4 emissions", rtol=1e-12)
    _, grads = _vag(lp, np.array([[1, 2]]), [4], [2], reduction="sum")
    _, eg = ref.ctc_loss(lp, np.array([[1, 2]]), [4], [2], reduction="sum")
    assert_close(grads["log_probs"], eg["log_probs"], "-1e4 gradient", rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_gradient_with_steps_outside_exps_normal_range(dtype, threads):
    """Steps whose target log-probs have no normal exp (-200, -800, 88.5) take shifted emissions while
    the other steps take plain ones; every gradient entry, target class or not, must still be the
    reference's (samples >= threads: each sweep writes whole gradient rows itself)."""
    import fastloss

    rng = np.random.default_rng(21)
    T, N, C = 40, 4, 7
    lp = log_softmax(rng.standard_normal((T, N, C)))
    lp[3:6, 0, 1:] = -200.0          # below exp's normal range (float32 and float64 alike)
    lp[10:12, 1, 2] = -800.0         # below float64's normal range too
    lp[20, 2, :] += 88.5 - lp[20, 2, :].max()  # above the plain range, exp still finite in float32
    lp[7, 3, 3] = -np.inf
    tg = np.array([[1, 2, 3, 1, 2], [2, 2, 4, 5, 6], [6, 5, 4, 3, 2], [1, 3, 5, 3, 1]])
    il, tl = np.full(N, T), np.array([5, 5, 5, 5])
    lp = lp.astype(dtype)
    before = fastloss.get_num_threads()
    try:
        fastloss.set_num_threads(threads)
        loss, grads = _vag(lp, tg, il, tl, reduction="sum")
    finally:
        fastloss.set_num_threads(before)
    eloss, eg = ref.ctc_loss(lp.astype(np.float64), tg, il, tl, reduction="sum")
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
    assert_close(loss, eloss, "loss with out-of-range steps", **tol)
    assert_close(grads["log_probs"], eg["log_probs"], "gradient with out-of-range steps", **tol)


def test_minus_inf_log_probs_give_finite_loss_and_zero_gradient_there():
    rng = np.random.default_rng(8)
    lp = log_softmax(rng.standard_normal((8, 2, 5)))
    lp[:, :, 4] = -np.inf
    lp[3, 0, 2] = -np.inf
    tg = np.array([[1, 2, 3], [2, 2, 1]])
    loss, grads = _vag(lp, tg, [8, 8], [3, 3], reduction="none")
    expected, eg = ref.ctc_loss(lp, tg, [8, 8], [3, 3], reduction="none")
    assert_close(loss, expected, "-inf classes")
    g = grads["log_probs"]
    assert (g[:, :, 4] == 0).all() and g[3, 0, 2] == 0  # torch gives nan there (-inf - -inf)
    finite = np.isfinite(lp)
    assert_close(g[finite], eg["log_probs"][finite], "gradient elsewhere", rtol=1e-9, atol=1e-12)


def test_long_runs_of_repeats_and_tight_input_lengths():
    rng = np.random.default_rng(9)
    target = [3] * 20 + [1, 2] * 5 + [2] * 10
    need = len(target) + sum(a == b for a, b in zip(target, target[1:]))
    lp = log_softmax(rng.standard_normal((need, 1, 4)) * 3)
    out = _loss(lp, np.array([target]), [need], [len(target)], reduction="none")
    assert_close(out, [_ref_nll(lp[:, 0], target)], "tight length with repeats", rtol=1e-11)
    assert _loss(lp, np.array([target]), [need - 1], [len(target)], reduction="none")[0] == np.inf


def _long_problem(T, C, S_, scale, seed):
    rng = np.random.default_rng(seed)
    lp = log_softmax(rng.standard_normal((T, 2, C)) * scale)
    tg = rng.integers(1, C, (2, S_))
    return lp, tg, np.array([T, T - T // 7]), np.array([S_, S_ - 3])


@pytest.mark.parametrize("T, C, S_, scale", [(2000, 6, 50, 5.0), (1000, 30, 200, 1.0), (3000, 8, 20, 8.0)])
def test_long_and_peaked_inputs_match_log_space_reference(T, C, S_, scale):
    lp, tg, il, tl = _long_problem(T, C, S_, scale, 10)
    out = _loss(lp, tg, il, tl, reduction="none")
    loss, grads = _vag(lp, tg, il, tl, reduction="none")
    for n in range(2):
        expected = _ref_nll(lp[:il[n], n], tg[n, :tl[n]])
        assert_close(out[n], expected, f"forward, sample {n}", rtol=1e-9)
        assert_close(loss[n], expected, f"value_and_grad, sample {n}", rtol=1e-9)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_t_10000_matches_torch(dtype):
    import torch
    import torch.nn.functional as F

    lp, tg, il, tl = _long_problem(10000, 12, 60, 4.0, 11)
    lp = lp.astype(dtype)
    x = torch.from_numpy(lp.copy()).requires_grad_()
    t_loss = F.ctc_loss(x, torch.from_numpy(tg), torch.from_numpy(il), torch.from_numpy(tl), reduction="none")
    (t_grad,) = torch.autograd.grad(t_loss.sum(), [x])
    loss, grads = _vag(lp, tg, il, tl, reduction="none")
    out = _loss(lp, tg, il, tl, reduction="none")
    assert np.isfinite(out).all()
    if dtype == np.float64:
        assert_close(out, t_loss.detach().numpy(), "T=10000 vs torch", rtol=1e-9)
        assert_close(loss, t_loss.detach().numpy(), "T=10000 value_and_grad vs torch", rtol=1e-9)
        assert_close(grads["log_probs"], t_grad.numpy(), "T=10000 grad vs torch", rtol=1e-7, atol=1e-9)
    else:
        exact = _loss(lp.astype(np.float64), tg, il, tl, reduction="none")
        assert_no_less_accurate(out, t_loss.detach().numpy(), exact, "T=10000 float32 vs torch")


@pytest.mark.torch
def test_minus_1e4_and_minus_inf_match_torch_loss():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(12)
    lp = log_softmax(rng.standard_normal((30, 3, 6)))
    lp[5:9, 0, :] = -1e4
    lp[5:9, 0, 0] = 0.0
    lp[:, 1, 5] = -np.inf
    lp[10, 2, 1:] = -1e4
    tg = rng.integers(1, 6, (3, 8))
    il, tl = np.array([30, 28, 25]), np.array([8, 7, 6])
    theirs = F.ctc_loss(torch.from_numpy(lp), torch.from_numpy(tg), torch.from_numpy(il), torch.from_numpy(tl),
                        reduction="none").numpy()
    assert_close(_loss(lp, tg, il, tl, reduction="none"), theirs, "extreme log_probs vs torch", rtol=1e-9)


@pytest.mark.parametrize("N", [1, 3, 12])
def test_thread_count_does_not_change_results(N):
    """Batches larger and smaller than the thread count (the latter split the gradient's rows)."""
    import fastloss

    rng = np.random.default_rng(13)
    T, C, S_ = 300, 40, 30
    lp = log_softmax(rng.standard_normal((T, N, C)) * 2).astype(np.float32)
    tg = rng.integers(1, C, (N, S_))
    il = rng.integers(T // 2, T + 1, N)
    tl = rng.integers(0, S_ + 1, N)
    if N > 1:
        il[1], tl[1], tg[1, :2] = 1, 2, 5  # an infeasible sample: nan rows
    before = fastloss.get_num_threads()
    try:
        results = []
        for n in (1, 2, 4):
            fastloss.set_num_threads(n)
            loss, grads = _vag(lp, tg, il, tl, reduction="none")
            results.append((_loss(lp, tg, il, tl, reduction="none"), loss, grads["log_probs"]))
    finally:
        fastloss.set_num_threads(before)
    for r in results[1:]:
        # a long sample takes log Z from its halves joined at mid whether or not they ran on two
        # threads: loss and gradient are bit-identical to one thread's
        assert_close(results[0][0], r[0], "threads, forward", rtol=0, atol=0)
        assert_close(results[0][1], r[1], "threads, value_and_grad loss", rtol=0, atol=0)
        assert_close(results[0][2], r[2], "threads, gradient", rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["random", "peaked", "minus_1e4_in_second_half", "minus_1e4_in_first_half",
                                  "tight", "short_and_long"])
def test_gradient_split_across_threads_matches_one_thread_and_reference(case, dtype):
    """value_and_grad with fewer samples than threads: each long sample's alpha half (rows up to
    mid, then the gradient above mid) and beta half (rows above mid, then the gradient up to mid)
    run concurrently; a failed check falls back to the sequential sweep. Equal to one thread up to
    rounding, and to the reference."""
    import fastloss

    rng = np.random.default_rng(15)
    T, C, S_ = 600, 12, 50
    scale = 8.0 if case == "peaked" else 1.5
    lp = log_softmax(rng.standard_normal((T, 3, C)) * scale)
    tg = rng.integers(1, C, (3, S_))
    il, tl = np.array([T, T - 101, T - 7]), np.array([S_, S_ - 7, S_ - 20])
    if case.startswith("minus_1e4"):
        rows = slice(400, 410) if case.endswith("second_half") else slice(100, 110)
        lp[rows, :, :] = -1e4
        lp[rows, :, 0] = 0.0
    if case == "tight":
        il[0] = S_ + 5
        tg[0] = np.arange(S_) % (C - 1) + 1
    if case == "short_and_long":
        il[1], tl[1] = 40, 15   # too short to split: one task does it whole
    lp = lp.astype(dtype)
    before = fastloss.get_num_threads()
    try:
        outs = {}
        for n in (1, 2, 4):
            fastloss.set_num_threads(n)
            outs[n] = [_vag(lp[:, :k], tg[:k], il[:k], tl[:k], reduction="sum") for k in (1, 3)]
    finally:
        fastloss.set_num_threads(before)
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-6)
    for i, k in enumerate((1, 3)):
        eloss, eg = ref.ctc_loss(lp[:, :k].astype(np.float64), tg[:k], il[:k], tl[:k], reduction="sum")
        for n in (1, 2, 4):
            loss, grads = outs[n][i]
            assert np.isfinite(grads["log_probs"]).all()
            assert_close(loss, outs[1][i][0], f"{case}: {n} threads vs 1, loss", **tol)
            assert_close(grads["log_probs"], outs[1][i][1]["log_probs"], f"{case}: {n} threads vs 1", **tol)
            assert_close(loss, eloss, f"{case}: {n} threads vs reference, loss", **tol)
            assert_close(grads["log_probs"], eg["log_probs"], f"{case}: {n} threads vs reference", **tol)


@pytest.mark.parametrize("case", ["random", "peaked", "minus_1e4_in_second_half", "tight"])
def test_forward_split_across_threads_matches_one_thread_and_reference(case):
    """Forward only with fewer samples than threads: alpha over the first half and beta over the
    second run concurrently, log Z = log sum_s alpha_mid(s) beta_mid(s); a half that underflows
    falls back to the sequential sweep. Equal to one thread up to rounding, and to the reference."""
    import fastloss

    rng = np.random.default_rng(14)
    T, C, S_ = 700, 12, 60
    scale = 8.0 if case == "peaked" else 1.5
    lp = log_softmax(rng.standard_normal((T, 2, C)) * scale)
    tg = rng.integers(1, C, (2, S_))
    il, tl = np.array([T, T - 101]), np.array([S_, S_ - 7])
    if case == "minus_1e4_in_second_half":
        lp[500:510, :, :] = -1e4
        lp[500:510, :, 0] = 0.0
    if case == "tight":
        il = np.array([S_ + 5, T])
        tg[0] = np.arange(S_) % (C - 1) + 1
    before = fastloss.get_num_threads()
    try:
        outs = {}
        for n in (1, 2, 4):
            fastloss.set_num_threads(n)
            outs[n] = (_loss(lp[:, :1], tg[:1], il[:1], tl[:1], reduction="none"),
                       _loss(lp, tg, il, tl, reduction="none"))
    finally:
        fastloss.set_num_threads(before)
    for k in range(2):
        expected = np.array([_ref_nll(lp[:il[n], n], tg[n, :tl[n]]) for n in range(k + 1)])
        for n in (1, 2, 4):
            assert np.isfinite(outs[n][k]).all()
            assert_close(outs[n][k], outs[1][k], f"{case}: {n} threads vs 1", rtol=1e-12)
            assert_close(outs[n][k], expected, f"{case}: {n} threads vs reference", rtol=1e-9)
