"""The GPU backend against the CPU backend: one test body per case, run on the CPU kernels and on
the GPU kernels -- executed on the CPU by the emulation shim (FASTLOSS_GPU=emulate, needs g++),
and, where CuPy and a CUDA device exist, on the device (marked ``gpu``). The loss layer on device
arrays without a GPU: tests/test_gpu_fakecupy.py.

The spec suite runs whole under the emulation too (``FASTLOSS_GPU=emulate pytest spec``); these
tests add what it does not reach: the block-per-row path of large vocabularies, CTC targets too
long for shared memory, run-to-run determinism under random schedules, the device-side index
checks, and the kernels on a real device.
"""
import os
import shutil

import numpy as np
import pytest

import fastloss

HAVE_CXX = shutil.which(os.environ.get("FASTLOSS_EMULATE_CXX", "g++")) is not None
needs_cxx = pytest.mark.skipif(not HAVE_CXX, reason="no C++ compiler (g++) for the CUDA emulation")


@pytest.fixture
def emulate(monkeypatch):
    monkeypatch.setenv("FASTLOSS_GPU", "emulate")


def _both(monkeypatch, fn):
    """``fn()`` on the CPU backend, then on the GPU kernels (emulated)."""
    monkeypatch.delenv("FASTLOSS_GPU", raising=False)
    cpu = fn()
    monkeypatch.setenv("FASTLOSS_GPU", "emulate")
    try:
        gpu = fn()
    finally:
        monkeypatch.delenv("FASTLOSS_GPU", raising=False)
    return cpu, gpu


def _assert_same(cpu, gpu, dtype, what, atol64=1e-12):
    tol = dict(rtol=2e-5, atol=2e-6) if np.dtype(dtype) == np.float32 else dict(rtol=1e-10, atol=atol64)
    loss_c, grads_c = cpu
    loss_g, grads_g = gpu
    assert np.asarray(loss_g).dtype == np.asarray(loss_c).dtype, what
    np.testing.assert_allclose(loss_g, loss_c, err_msg=what, **tol)
    assert grads_g.keys() == grads_c.keys(), what
    for k in grads_c:
        assert grads_g[k].shape == grads_c[k].shape and grads_g[k].dtype == grads_c[k].dtype, (what, k)
        np.testing.assert_allclose(grads_g[k], grads_c[k], err_msg=f"{what}: grad {k}", **tol)


def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _cases(rng, dtype):
    """(name, args, kwargs) of every loss, one representative call each."""
    f = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    p = lambda *shape: rng.uniform(0.05, 0.95, shape).astype(dtype)  # noqa: E731
    N, C, D = 6, 5, 7
    cls = rng.integers(0, C, N)
    pm = rng.choice([-1.0, 1.0], N).astype(dtype)
    ml_target = np.full((N, C), -1)
    ml_target[:, :2] = rng.integers(0, C, (N, 2))
    T, S = 12, 3
    lp = log_softmax(rng.standard_normal((T, N, C))).astype(dtype)
    return [
        ("l1_loss", (f(N, D), f(N, D)), {}),
        ("mse_loss", (f(N, D), f(N, D)), {"weight": p(N, D)}),
        ("mse_loss", (f(N, D)[:, ::-2], f(4)), {}),
        ("smooth_l1_loss", (f(N, D), f(N, D)), {"beta": 0.5}),
        ("huber_loss", (f(N, D), f(N, D)), {"delta": 0.7, "weight": p(N, D)}),
        ("soft_margin_loss", (f(N, D), np.sign(f(N, D))), {}),
        ("hinge_embedding_loss", (f(N, D), np.sign(f(N, D))), {"margin": 0.5}),
        ("margin_ranking_loss", (f(N), f(N), pm), {"margin": 0.1}),
        ("binary_cross_entropy", (p(N, D), p(N, D)), {"weight": p(D)}),
        ("binary_cross_entropy_with_logits", (f(N, D), p(N, D)), {"weight": p(D), "pos_weight": p(D)}),
        ("kl_div", (f(N, D), p(N, D)), {"reduction": "batchmean"}),
        ("poisson_nll_loss", (f(N, D), np.abs(f(N, D)) * 3), {"full": True}),
        ("gaussian_nll_loss", (f(N, D), f(N, D), p(N, D)), {"full": True}),
        ("nll_loss", (f(N, C, 3, 2), rng.integers(0, C, (N, 3, 2))), {"weight": p(C), "ignore_index": 1}),
        ("cross_entropy", (f(N, C), cls), {"label_smoothing": 0.1, "weight": p(C)}),
        ("cross_entropy", (f(N, C, 4, 3), rng.integers(0, C, (N, 4, 3))), {"label_smoothing": 0.2}),
        ("cross_entropy", (f(N, C, 5), np.abs(f(N, C, 5))), {"label_smoothing": 0.1}),
        ("multilabel_soft_margin_loss", (f(N, C), (p(N, C) > 0.5).astype(dtype)), {"weight": p(C)}),
        ("multi_margin_loss", (f(N, C), cls), {"p": 2, "weight": p(C), "margin": 0.8}),
        ("multilabel_margin_loss", (f(N, C), ml_target), {}),
        ("cosine_embedding_loss", (f(N, D), f(N, D), pm), {"margin": 0.2}),
        ("triplet_margin_loss", (f(N, D), f(N, D), f(N, D)), {"swap": True, "p": 3.0}),
        ("triplet_margin_with_distance_loss", (f(N, D), f(N, D), f(N, D)),
         {"distance_function": fastloss.nn.PairwiseDistance(p=np.inf)}),
        ("ctc_loss", (lp, rng.integers(1, C, (N, S)), np.full(N, T), rng.integers(0, S + 1, N)), {}),
    ]


def _calls(rng, dtype, reduction):
    """(function, name, args, kwargs, wrt) of every case with ``reduction`` (kl_div keeps its default
    'mean' quirk out), differentiated with respect to every argument that has a gradient."""
    for name, args, kwargs in _cases(rng, dtype):
        kw = dict(kwargs)
        if not (name == "kl_div" and reduction == "mean"):
            kw["reduction"] = reduction
        fn = getattr(fastloss, name)
        wrt = [w for w in fn.differentiable if w not in ("weight", "pos_weight") or kw.get(w) is not None]
        yield fn, name, args, kw, wrt


@needs_cxx
@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_every_loss_matches_the_cpu_backend(monkeypatch, dtype, reduction):
    for fn, name, args, kw, wrt in _calls(np.random.default_rng(1), dtype, reduction):
        cpu, gpu = _both(monkeypatch, lambda: fastloss.value_and_grad(name, *args, wrt=wrt, **kw))
        _assert_same(cpu, gpu, dtype, f"{name}({reduction}, {np.dtype(dtype).name})")
        cpu_f, gpu_f = _both(monkeypatch, lambda: fn(*args, **kw))
        _assert_same((cpu_f, {}), (gpu_f, {}), dtype, f"{name} forward")


@needs_cxx
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_large_vocabulary_block_per_row(monkeypatch, dtype):
    """Rows longer than 1024 classes take a whole block and the online log-sum-exp across it."""
    rng = np.random.default_rng(2)
    N, C = 3, 50257
    x = (rng.standard_normal((N, C)) * 4).astype(dtype)
    x[1, 17] = 40.0  # a dominant logit late in some thread's slice
    t = np.array([5, 17, -100])
    for ls in (0.0, 0.1):
        cpu, gpu = _both(monkeypatch, lambda: fastloss.value_and_grad("cross_entropy", x, t, label_smoothing=ls))
        _assert_same(cpu, gpu, dtype, f"cross_entropy 3x50257 label_smoothing={ls}")
    y = rng.dirichlet(np.ones(C), N).astype(dtype)
    cpu, gpu = _both(monkeypatch, lambda: fastloss.value_and_grad("cross_entropy", x, y, reduction="none"))
    _assert_same(cpu, gpu, dtype, "cross_entropy 3x50257 probabilities")
    x2 = rng.standard_normal((4, 2000)).astype(dtype)
    y2 = (rng.random((4, 2000)) > 0.5).astype(dtype)
    cpu, gpu = _both(monkeypatch, lambda: fastloss.value_and_grad("multilabel_soft_margin_loss", x2, y2))
    _assert_same(cpu, gpu, dtype, "multilabel_soft_margin_loss 4x2000")


@needs_cxx
def test_ctc_target_longer_than_shared_memory_holds(monkeypatch):
    """2L + 1 states of more than 2048 doubles per row: the rows move to a global workspace."""
    rng = np.random.default_rng(3)
    L, T, C = 1100, 1150, 4
    lp = log_softmax(rng.standard_normal((T, 1, C)) * 2)
    tg = (np.arange(L) % (C - 1) + 1)[None, :]
    args = (lp, tg, [T], [L])
    cpu, gpu = _both(monkeypatch, lambda: fastloss.value_and_grad("ctc_loss", *args, reduction="sum"))
    # (a gradient entry is exp(lp) minus a posterior of the same size: 1e-12 absolute differences
    # between the two backends' summation orders after 1150 steps)
    _assert_same(cpu, gpu, np.float64, "ctc_loss L=1100", atol64=1e-10)
    assert np.isfinite(gpu[0])


@needs_cxx
def test_ctc_gradient_is_bitwise_identical_across_runs_and_schedules(emulate):
    """Every launch runs its blocks' threads in another random order: the gradient must not move
    (repeated labels' posteriors are summed in a fixed order, no float atomics)."""
    rng = np.random.default_rng(4)
    T, N, C, S = 60, 3, 6, 12
    lp = log_softmax(rng.standard_normal((T, N, C))).astype(np.float32)
    tg = rng.integers(1, 3, (N, S))  # few classes: many repeats of each
    runs = [fastloss.value_and_grad("ctc_loss", lp, tg, [T] * N, [S] * N, reduction="sum") for _ in range(4)]
    for loss, grads in runs[1:]:
        assert loss.tobytes() == runs[0][0].tobytes()
        assert grads["log_probs"].tobytes() == runs[0][1]["log_probs"].tobytes()


@needs_cxx
def test_emulation_routes_numpy_arrays_to_the_gpu_kernels(emulate):
    from fastloss import _backend, _gpu

    assert _backend.kernels("elementwise", np.zeros(3)) is _gpu.kernels("elementwise")
    os.environ.pop("FASTLOSS_GPU")
    assert _backend.kernels("elementwise", np.zeros(3)) is not _gpu.kernels("elementwise")


# --- the device-side index checks (the kernels called directly, as the loss layer will for CuPy) ---

@needs_cxx
def test_kernels_flag_bad_class_targets_on_the_device():
    from fastloss._gpu import BadIndex, kernels

    k = kernels("classification")
    x = np.zeros((4, 3, 1))
    w = np.ones(3)
    t = np.array([[0], [2], [3], [-7]])  # entries 2 (3 >= C) and 3 (-7) are bad
    partial = np.zeros(4)
    with pytest.raises(BadIndex) as info:
        k.nll(x, t, w, -100, None, None, None, 1.0, partial, 1)
    assert (info.value.argument, info.value.position) == ("target", 2)
    with pytest.raises(BadIndex) as info:
        k.ce_index_rows(x, t, w, -100, 0.0, None, None, None, 1.0, partial, 1)
    assert info.value.position == 2
    t_ok = np.array([[0], [-100], [1], [2]])
    k.ce_index_rows(x, t_ok, w, -100, 0.0, None, None, None, 1.0, partial, 1)
    m = kernels("margin")
    with pytest.raises(BadIndex) as info:
        m.multi_margin(np.zeros((3, 4)), np.array([0, 4, 1]), None, 1.0, 1, np.empty(3), None, None, 1.0, 1)
    assert info.value.position == 1
    y = np.array([[0, -1, 9, 1], [1, 2, -1, -1]])  # 9 is bad even after the first -1, as torch checks
    with pytest.raises(BadIndex) as info:
        m.multilabel_margin(np.zeros((2, 4)), y, np.empty(2), None, None, 1.0, 1)
    assert info.value.position == 2


@needs_cxx
def test_ctc_kernel_flags_a_used_label_out_of_range_only():
    from fastloss._gpu import BadIndex, kernels

    k = kernels("ctc")
    T, N, C = 5, 2, 4
    lp = log_softmax(np.zeros((T, N, C)))
    targets = np.array([1, 2, 3, 9, 1])  # concatenated: sample 0 = [1, 2], sample 1 = [3, 9, 1]
    offsets, tl, il = np.array([0, 2]), np.array([2, 3]), np.array([5, 5])
    nll = np.empty(N)
    with pytest.raises(BadIndex) as info:
        k.ctc_loss(lp, targets, offsets, tl, il, np.arange(N), 0, nll, None, np.zeros(0), False, 1)
    assert (info.value.argument, info.value.position) == ("targets", 3)
    assert np.isfinite(nll[0])
    padded = np.array([[1, 2, 7], [3, 1, 2]])  # 7 is padding (target_lengths[0] = 2): not a label
    k.ctc_loss(lp, padded.reshape(-1), np.array([0, 3]), np.array([2, 3]), il, np.arange(N), 0, nll, None,
               np.zeros(0), False, 1)
    assert np.isfinite(nll).all()


# --- on a real device ------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_device_kernels_match_cpu_kernels(dtype):
    """The GPU kernel namespaces on CuPy arrays against the CPU kernels on the same data."""
    import cupy

    from fastloss import _cpu, _gpu

    rng = np.random.default_rng(5)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    # elementwise: mse, reduced and per element
    n = 100_000
    x, y = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    gx, gy = np.empty_like(x), np.empty_like(y)
    total, bad = _cpu.kernels("elementwise").mse(1, n, x, 0, 1, y, 0, 1, None, gx, gy, None, 0, 0, 0.5, 1)
    dx, dy = cupy.asarray(x), cupy.asarray(y)
    dgx, dgy = cupy.empty_like(dx), cupy.empty_like(dy)
    dtotal, dbad = _gpu.kernels("elementwise").mse(1, n, dx, 0, 1, dy, 0, 1, None, dgx, dgy, None, 0, 0, 0.5, 1)
    np.testing.assert_allclose(float(dtotal), total, **tol)
    assert dbad == bad == 0
    np.testing.assert_allclose(cupy.asnumpy(dgx), gx, **tol)
    # cross entropy, 8 x 50257 (block per row)
    N, C = 8, 50257
    logits = rng.standard_normal((N, C, 1)).astype(dtype)
    t = rng.integers(0, C, (N, 1))
    w = np.ones(C, dtype)
    g, partial = np.empty_like(logits), np.zeros(N)
    _cpu.kernels("classification").ce_index_rows(logits, t, w, -100, 0.1, None, g, None, 1.0, partial, 1)
    dg, dpartial = cupy.empty_like(cupy.asarray(logits)), cupy.zeros(N)
    _gpu.kernels("classification").ce_index_rows(cupy.asarray(logits), cupy.asarray(t), cupy.asarray(w), -100, 0.1,
                                                 None, dg, None, 1.0, dpartial, 1)
    np.testing.assert_allclose(float(dpartial.sum()), partial.sum(), **tol)
    np.testing.assert_allclose(cupy.asnumpy(dg), g, **tol)
    # ctc, value and gradient, deterministic
    T, N, C, S = 200, 4, 20, 30
    lp = log_softmax(rng.standard_normal((T, N, C))).astype(dtype)
    tg = rng.integers(1, C, (N, S)).reshape(-1)
    offsets, tl, il = np.arange(N) * S, np.full(N, S), np.full(N, T)
    scales = np.ones(N)
    nll, grad = np.empty(N), np.empty_like(lp)
    _cpu.kernels("ctc").ctc_loss(lp, tg, offsets, tl, il, np.arange(N), 0, nll, grad, scales, False, 1)
    dlp = cupy.asarray(lp)
    grads = []
    for _ in range(3):
        dnll, dgrad = cupy.empty(N), cupy.empty_like(dlp)
        _gpu.kernels("ctc").ctc_loss(dlp, cupy.asarray(tg), cupy.asarray(offsets), tl, il, None, 0, dnll, dgrad,
                                     cupy.asarray(scales), False, 1)
        grads.append(cupy.asnumpy(dgrad))
    np.testing.assert_allclose(cupy.asnumpy(dnll), nll, rtol=1e-9)
    np.testing.assert_allclose(grads[0], grad, **tol)
    assert all(g.tobytes() == grads[0].tobytes() for g in grads)


@pytest.mark.gpu
@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_device_losses_match_cpu(dtype, reduction):
    """Every loss on CuPy arrays (forward and value_and_grad) returns CuPy arrays equal to the CPU
    backend's results. (tests/test_gpu_fakecupy.py runs the same path without a GPU.)"""
    import cupy

    for fn, name, args, kw, wrt in _calls(np.random.default_rng(6), dtype, reduction):
        cpu = fastloss.value_and_grad(name, *args, wrt=wrt, **kw)
        dev_args = [cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        dev_kw = {k: cupy.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        loss, grads = fastloss.value_and_grad(name, *dev_args, wrt=wrt, **dev_kw)
        assert isinstance(loss, cupy.ndarray) and all(isinstance(g, cupy.ndarray) for g in grads.values()), name
        _assert_same(cpu, (cupy.asnumpy(loss), {k: cupy.asnumpy(g) for k, g in grads.items()}), dtype,
                     f"{name}({reduction})")
        forward = fn(*dev_args, **dev_kw)
        assert isinstance(forward, cupy.ndarray), name
        _assert_same((fn(*args, **kw), {}), (cupy.asnumpy(forward), {}), dtype, f"{name}({reduction}) forward")


@pytest.mark.gpu
def test_device_index_errors_match_cpu():
    """A class target out of range on the device raises the CPU path's IndexError."""
    import cupy

    x, t = np.zeros((4, 3)), np.array([0, 2, 3, -7])
    with pytest.raises(IndexError) as host:
        fastloss.cross_entropy(x, t)
    with pytest.raises(IndexError) as dev:
        fastloss.cross_entropy(cupy.asarray(x), cupy.asarray(t))
    assert str(dev.value) == str(host.value)


@pytest.mark.gpu
@pytest.mark.filterwarnings("ignore:Using a target size")
def test_device_nn_modules_match_cpu():
    """Every nn module on CuPy arrays: forward, backward, fused forward, backward."""
    import inspect

    import cupy

    import fastloss.nn as fnn

    rng = np.random.default_rng(7)
    modules = {getattr(fnn, n).function: getattr(fnn, n) for n in fnn.__all__
               if getattr(getattr(fnn, n), "function", None)}
    dev = lambda v: cupy.asarray(v) if isinstance(v, np.ndarray) else v  # noqa: E731
    for name, args, kwargs in _cases(rng, np.float32):
        cls = modules[name]
        options = {k: v for k, v in kwargs.items() if k in inspect.signature(cls.__init__).parameters}
        cpu_mod, dev_mod = cls(**options), cls(**{k: dev(v) for k, v in options.items()})
        for step in range(2):
            loss_c, loss_d = cpu_mod(*args), dev_mod(*map(dev, args))
            grads_c, grads_d = cpu_mod.backward(), dev_mod.backward()
            assert isinstance(loss_d, cupy.ndarray), name
            _assert_same((loss_c, grads_c), (cupy.asnumpy(loss_d), {k: cupy.asnumpy(g) for k, g in grads_d.items()}),
                         np.float32, f"{cls.__name__} step {step}")


def test_gpu_variants_still_match_the_kernels():
    """benchmarks/gpu_variants.py's A/B variants (the leads for the next device session) are text
    substitutions of the kernel sources: each must still match exactly once."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks import gpu_variants

    for name, (family, substitutions, *_) in gpu_variants.VARIANTS.items():
        text = gpu_variants.variant_source(family, substitutions)  # SystemExit where one does not match
        assert all(new in text for _, new in substitutions), name
