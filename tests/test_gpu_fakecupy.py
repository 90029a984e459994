"""The loss layer's device path, without a GPU: every loss on ``fastloss._gpu.fakecupy`` arrays.

``fakecupy`` (a testing aid) is CuPy's interface over host memory: the backend treats its arrays
exactly as CuPy arrays (array module, GPU kernel wrappers, device index checks) and runs the
kernels through the CUDA emulation. It refuses every implicit host conversion (float(), int(),
bool(), .item(), np.asarray, ...), so these tests prove that a loss call makes no hidden
synchronisation, that results come back as device arrays, and they count the explicit reads.
"""
import inspect
import operator
import os
import shutil

import numpy as np
import pytest
from test_gpu_backend import _assert_same, _cases, log_softmax

import fastloss
import fastloss.nn as fnn
from fastloss._gpu import fakecupy as fc

HAVE_CXX = shutil.which(os.environ.get("FASTLOSS_EMULATE_CXX", "g++")) is not None
pytestmark = pytest.mark.skipif(not HAVE_CXX, reason="no C++ compiler (g++) for the CUDA emulation")


def _dev(v):
    return fc.asarray(v) if isinstance(v, np.ndarray) else v


def _host(result):
    """A (loss, grads) result of device arrays on the host, checking that every array is one."""
    loss, grads = result
    assert isinstance(loss, fc.ndarray), type(loss)
    for k, g in grads.items():
        assert isinstance(g, fc.ndarray), (k, type(g))
    return fc.asnumpy(loss), {k: fc.asnumpy(g) for k, g in grads.items()}


def _kwargs(kwargs, reduction, name):
    kw = dict(kwargs)
    if not (name == "kl_div" and reduction == "mean"):
        kw["reduction"] = reduction
    return kw


# explicit device-to-host reads a call makes (fakecupy.transfers), for the cases of _cases():
# the device index checks read one flag (nll, cross_entropy with class indices, the margin losses,
# ctc); 'mean' over class indices reads its denominator (a kernel scalar); binary_cross_entropy
# reads its range-check count; ctc reads its two device length arrays (torch's CUDA CTC takes the
# lengths to the host too) and its N per-sample losses (zero_infinity and the reduction are the
# compiled module's, stated once for both backends, on host values); mse_loss with a weight and
# 'mean' reads sum(weight). Nothing else.
def _expected_reads(name, kw, class_index):
    reduction = kw.get("reduction", "mean")
    reads = 0
    if class_index or name in ("multi_margin_loss", "multilabel_margin_loss"):
        reads += 1  # the index flag
    if class_index and reduction == "mean":
        reads += 1  # the denominator (a probability target has none)
    if name in ("binary_cross_entropy", "gaussian_nll_loss"):
        reads += 1  # the count of elements failing the range check
    if name == "ctc_loss":
        reads += 4  # the two device length arrays, the index flag and the per-sample losses
    if name == "mse_loss" and kw.get("weight") is not None and reduction == "mean":
        reads += 1  # sum(weight)
    return reads


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_every_loss_on_device_arrays_matches_the_cpu_backend(dtype, reduction):
    rng = np.random.default_rng(11)
    for name, args, kwargs in _cases(rng, dtype):
        kw = _kwargs(kwargs, reduction, name)
        fn = getattr(fastloss, name)
        wrt = [w for w in fn.differentiable if w not in ("weight", "pos_weight") or kw.get(w) is not None]
        dev_args = [_dev(a) for a in args]
        dev_kw = {k: _dev(v) for k, v in kw.items()}
        what = f"{name}({reduction}, {np.dtype(dtype).name})"

        cpu = fastloss.value_and_grad(name, *args, wrt=wrt, **kw)
        fc.reset_transfers()
        dev = _host(fastloss.value_and_grad(name, *dev_args, wrt=wrt, **dev_kw))
        reads = fc.transfers - 1 - len(dev[1])  # minus _host's own reads
        _assert_same(cpu, dev, dtype, what)

        expected = _expected_reads(name, kw, name in ("nll_loss", "cross_entropy") and args[1].dtype.kind in "iu")
        assert reads == expected, f"{what}: {reads} host reads, expected {expected}"

        fc.reset_transfers()
        loss = fn(*dev_args, **dev_kw)
        assert isinstance(loss, fc.ndarray), what
        _assert_same((fn(*args, **kw), {}), (fc.asnumpy(loss), {}), dtype, f"{what} forward")


def _module_for(name):
    for cls_name in fnn.__all__:
        cls = getattr(fnn, cls_name)
        if getattr(cls, "function", None) == name:
            return cls
    raise LookupError(name)


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_nn_module_on_device_arrays(dtype):
    """forward, backward (recomputed), forward again (fused) and backward, as a training loop does."""
    rng = np.random.default_rng(12)
    seen = set()
    for name, args, kwargs in _cases(rng, dtype):
        cls = _module_for(name)
        params = inspect.signature(cls.__init__).parameters
        options = {k: v for k, v in kwargs.items() if k in params}
        cpu_mod, dev_mod = cls(**options), cls(**{k: _dev(v) for k, v in options.items()})
        dev_args = [_dev(a) for a in args]
        for step in range(2):
            loss_c, loss_d = cpu_mod(*args), dev_mod(*dev_args)
            grads_c, grads_d = cpu_mod.backward(), dev_mod.backward()
            _assert_same((loss_c, grads_c), _host((loss_d, grads_d)), dtype, f"{cls.__name__} step {step}")
        seen.add(name)
    assert len(seen) == 21


def test_fakecupy_refuses_implicit_host_conversions():
    a = fc.asarray(np.array([1.5, 2.5]))
    s = a.sum()
    assert isinstance(s, fc.ndarray) and s.shape == ()  # reductions stay 0-d device arrays, as in CuPy
    for convert in (float, int, bool, complex, operator.index, list, np.asarray, lambda v: v.item(),
                    lambda v: v.tolist(), lambda v: np.array(v)):
        with pytest.raises(fc.ImplicitTransfer):
            convert(s)
    with pytest.raises(fc.ImplicitTransfer):
        if a[0] > 1:
            pass
    with pytest.raises(TypeError, match="NumPy array among device operands"):
        a + np.ones(2)
    fc.reset_transfers()
    assert fc.asnumpy(s) == 4.0 and a.get().tolist() == [1.5, 2.5]
    assert fc.transfers == 2


def test_fakecupy_mirrors_only_functions_cupy_has():
    cupy = pytest.importorskip("cupy")
    names = [n for n in fc._FUNCTIONS] + ["asnumpy", "ndarray"]
    missing = [n for n in names if not hasattr(cupy, n)]
    assert not missing, missing
    assert hasattr(cupy.lib.stride_tricks, "as_strided")
    with pytest.raises(TypeError):
        np.einsum("i->", fc.asarray(np.ones(3)))  # a NumPy function CuPy's namespace here lacks


def test_device_arrays_take_the_gpu_kernels_and_xp():
    from fastloss import _backend, _gpu

    a = fc.asarray(np.zeros(3))
    assert _backend.array_module(a) is fc
    assert _backend.kernels("elementwise", a) is _gpu.kernels("elementwise")
    assert _backend.kernels("elementwise", np.zeros(3)) is not _gpu.kernels("elementwise")


@pytest.mark.parametrize("call", [
    lambda x, y: fastloss.mse_loss(x, y),
    lambda x, y: fastloss.binary_cross_entropy_with_logits(x, y),
    lambda x, y: fastloss.kl_div(x, y, reduction="sum"),
])
def test_a_mix_of_device_and_host_arrays_is_refused(call):
    x, y = np.full((2, 3), 0.5), np.full((2, 3), 0.25)
    for a, b in ((fc.asarray(x), y), (x, fc.asarray(y))):
        with pytest.raises(TypeError, match="different devices.*torch raises"):
            call(a, b)


def test_a_mix_of_devices_is_refused_for_index_targets_too():
    x = fc.asarray(np.zeros((3, 4)))
    t = np.array([0, 1, 2])
    for fn in (fastloss.nll_loss, fastloss.cross_entropy, fastloss.multi_margin_loss):
        with pytest.raises(TypeError, match="different devices"):
            fn(x, t)
        with pytest.raises(TypeError, match="different devices"):
            fn(fc.asnumpy(x), fc.asarray(t))
    with pytest.raises(TypeError, match="different devices"):
        fastloss.cosine_embedding_loss(x, x, np.ones(3))


def _same_error(fn, *args, **kwargs):
    """fn on host arrays and on device arrays raises the same IndexError message."""
    with pytest.raises(IndexError) as host:
        fn(*args, **kwargs)
    dev_args = [_dev(a) for a in args]
    with pytest.raises(IndexError) as dev:
        fn(*dev_args, **{k: _dev(v) for k, v in kwargs.items()})
    assert str(dev.value) == str(host.value)
    return str(host.value)


def test_device_index_checks_raise_the_cpu_message():
    x = np.zeros((4, 3))
    msg = _same_error(fastloss.nll_loss, x, np.array([0, 2, 3, -7]))
    assert "target[2] = 3" in msg
    _same_error(fastloss.cross_entropy, x, np.array([0, -100, 5, 1]))
    _same_error(fastloss.cross_entropy, np.zeros((2, 3, 2, 2)), np.array([[[0, 1], [2, 9]], [[0, 0], [0, 0]]]),
                reduction="none")
    _same_error(fastloss.cross_entropy, np.zeros((3, 0)), np.array([0, -100, 0]))
    _same_error(fastloss.multi_margin_loss, x, np.array([0, 3, 1, 1]))
    _same_error(fastloss.multilabel_margin_loss, np.zeros((2, 4)), np.array([[0, -1, 9, 1], [1, 2, -1, -1]]))
    lp = log_softmax(np.zeros((5, 2, 4)))
    msg = _same_error(fastloss.ctc_loss, lp, np.array([1, 2, 3, 9, 1]), np.array([5, 5]), np.array([2, 3]))
    assert "sample 1 at position 1" in msg
    _same_error(fastloss.ctc_loss, lp, np.array([[1, 2, 7], [3, 1, 4]]), np.array([5, 5]), np.array([2, 3]))
    # a valid padded target with out-of-range padding raises nothing on either backend
    cpu = fastloss.ctc_loss(lp, np.array([[1, 2, 7], [3, 1, 2]]), [5, 5], [2, 3])
    dev = fastloss.ctc_loss(fc.asarray(lp), fc.asarray(np.array([[1, 2, 7], [3, 1, 2]])), [5, 5], [2, 3])
    np.testing.assert_allclose(fc.asnumpy(dev), cpu, rtol=1e-12)


def test_ctc_takes_host_targets_and_lengths_with_device_log_probs():
    """As torch's CUDA ctc_loss does: host targets are uploaded, host lengths cost no read."""
    rng = np.random.default_rng(13)
    lp = log_softmax(rng.standard_normal((20, 3, 6)))
    tg = rng.integers(1, 6, (3, 4))
    cpu = fastloss.value_and_grad("ctc_loss", lp, tg, [20, 18, 15], [4, 3, 2])
    fc.reset_transfers()
    loss, grads = fastloss.value_and_grad("ctc_loss", fc.asarray(lp), tg, [20, 18, 15], [4, 3, 2])
    assert fc.transfers == 2  # the kernel's index flag and the per-sample losses (reduced on the host)
    _assert_same(cpu, _host((loss, grads)), np.float64, "ctc host targets")


def test_device_grad_output_arrays_stay_on_the_device():
    rng = np.random.default_rng(14)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    go = rng.standard_normal((5, 4))
    cpu = fastloss.value_and_grad("mse_loss", x, y, reduction="none", grad_output=go)
    fc.reset_transfers()
    dev = fastloss.value_and_grad("mse_loss", fc.asarray(x), fc.asarray(y), reduction="none",
                                  grad_output=fc.asarray(go))
    assert fc.transfers == 0
    _assert_same(cpu, _host(dev), np.float64, "mse grad_output array")
    # a scalar grad_output on the device is a kernel scalar: one documented read
    cpu = fastloss.value_and_grad("mse_loss", x, y, grad_output=np.array(2.5))
    fc.reset_transfers()
    dev = fastloss.value_and_grad("mse_loss", fc.asarray(x), fc.asarray(y), grad_output=fc.asarray(2.5))
    assert fc.transfers == 1
    _assert_same(cpu, _host(dev), np.float64, "mse scalar grad_output")


def test_cosine_distance_and_user_distances_run_on_the_device():
    rng = np.random.default_rng(15)
    a, p, n = (rng.standard_normal((6, 5)) for _ in range(3))
    for df in (fnn.CosineDistance(), fnn.PairwiseDistance(p=1.0, keepdim=True)):
        for swap in (False, True):
            kw = dict(distance_function=df, swap=swap, margin=0.3)
            cpu = fastloss.value_and_grad("triplet_margin_with_distance_loss", a, p, n, **kw)
            fc.reset_transfers()
            dev = fastloss.value_and_grad("triplet_margin_with_distance_loss", *map(fc.asarray, (a, p, n)), **kw)
            assert fc.transfers == 0, (df, swap)
            _assert_same(cpu, _host(dev), np.float64, f"{df!r} swap={swap}")
