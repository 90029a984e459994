"""The tour: every loss and its gradient on the torch documentation's examples.

    python -m fastloss [--no-timing]

For each loss it prints the value and the gradient's norm; when torch is installed it also runs
torch on the same arrays and shows the largest difference of value and gradient, and the
speed-up of ``value_and_grad`` over torch's forward+backward (median of repeated runs).
"""
import argparse
import sys
import time
import warnings

import numpy as np

import fastloss as fl


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def examples(rng):
    """(title, loss name, args, kwargs, wrt) built as in torch's docs examples."""
    randn = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    rand = lambda *s: rng.random(s).astype(np.float32)  # noqa: E731
    sign = lambda *s: np.where(rng.random(s) < 0.5, -1.0, 1.0).astype(np.float32)  # noqa: E731
    T, C, N, S = 50, 20, 16, 30
    ctc_targets = rng.integers(1, C, size=(N, S))
    return [
        ("L1Loss", "l1_loss", (randn(3, 5), randn(3, 5)), {}, ("input",)),
        ("MSELoss", "mse_loss", (randn(3, 5), randn(3, 5)), {}, ("input",)),
        ("SmoothL1Loss", "smooth_l1_loss", (randn(3, 5), randn(3, 5)), {"beta": 0.5}, ("input",)),
        ("HuberLoss", "huber_loss", (randn(3, 5), randn(3, 5)), {"delta": 0.5}, ("input",)),
        ("SoftMarginLoss", "soft_margin_loss", (randn(3, 5), sign(3, 5)), {}, ("input",)),
        ("HingeEmbeddingLoss", "hinge_embedding_loss", (randn(3, 5), sign(3, 5)), {"margin": 1.0}, ("input",)),
        ("MarginRankingLoss", "margin_ranking_loss", (randn(3), randn(3), sign(3)), {}, ("input1", "input2")),
        ("BCELoss", "binary_cross_entropy", (1 / (1 + np.exp(-randn(3))), rng.integers(0, 2, 3).astype(np.float32)), {},
         ("input",)),
        ("BCEWithLogitsLoss", "binary_cross_entropy_with_logits",
         (np.full((10, 64), 1.5, np.float32), np.ones((10, 64), np.float32)), {"pos_weight": np.ones(64, np.float32)},
         ("input",)),
        ("KLDivLoss", "kl_div", (_log_softmax(randn(3, 5), 1), np.exp(_log_softmax(rand(3, 5), 1))),
         {"reduction": "batchmean"}, ("input",)),
        ("PoissonNLLLoss", "poisson_nll_loss", (randn(5, 2), rng.poisson(2.0, (5, 2)).astype(np.float32)), {},
         ("input",)),
        ("GaussianNLLLoss", "gaussian_nll_loss", (randn(5, 2), randn(5, 2), np.ones((5, 1), np.float32)), {},
         ("input", "var")),
        ("NLLLoss", "nll_loss", (_log_softmax(randn(3, 5), 1), np.array([1, 0, 4])), {}, ("input",)),
        ("NLLLoss (2-d)", "nll_loss", (_log_softmax(randn(5, 4, 8, 8), 1), rng.integers(0, 4, (5, 8, 8))), {},
         ("input",)),
        ("CrossEntropyLoss", "cross_entropy", (randn(3, 5), rng.integers(0, 5, 3)), {}, ("input",)),
        ("CrossEntropyLoss (probabilities)", "cross_entropy",
         (randn(3, 5), np.exp(_log_softmax(randn(3, 5), 1))), {}, ("input",)),
        ("MultiLabelMarginLoss", "multilabel_margin_loss",
         (np.array([[0.1, 0.2, 0.4, 0.8]], np.float32), np.array([[3, 0, -1, 1]])), {}, ("input",)),
        ("MultiLabelSoftMarginLoss", "multilabel_soft_margin_loss",
         (randn(3, 5), rng.integers(0, 2, (3, 5)).astype(np.float32)), {}, ("input",)),
        ("MultiMarginLoss", "multi_margin_loss", (np.array([[0.1, 0.2, 0.4, 0.8]], np.float32), np.array([3])), {},
         ("input",)),
        ("CosineEmbeddingLoss", "cosine_embedding_loss", (randn(3, 5), randn(3, 5), sign(3)), {},
         ("input1", "input2")),
        ("TripletMarginLoss", "triplet_margin_loss", (randn(100, 128), randn(100, 128), randn(100, 128)),
         {"margin": 1.0, "p": 2}, ("anchor", "positive", "negative")),
        ("TripletMarginWithDistanceLoss", "triplet_margin_with_distance_loss",
         (randn(100, 128), randn(100, 128), randn(100, 128)), {}, ("anchor", "positive", "negative")),
        ("CTCLoss", "ctc_loss",
         (_log_softmax(randn(T, N, C), 2), ctc_targets, np.full(N, T), rng.integers(10, S, N)), {}, ("log_probs",)),
    ]


def _median_time(fn, budget=0.05, max_runs=50):
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < max_runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _torch_run(torch, name, args, kwargs, wrt):
    import inspect

    params = list(inspect.signature(getattr(fl, name)).parameters)
    tensors = [torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a for a in args]
    leaves = []
    for pname, t in zip(params, tensors):
        if pname in wrt and isinstance(t, torch.Tensor):
            t.requires_grad_(True)
            leaves.append(t)
    tkw = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    fn = getattr(torch.nn.functional, name)

    def run():
        out = fn(*tensors, **tkw)
        return out, torch.autograd.grad(out, leaves)

    out, grads = run()
    return out.detach().numpy(), [g.numpy() for g in grads], run


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastloss", description=__doc__.splitlines()[0])
    parser.add_argument("--no-timing", action="store_true", help="skip the speed comparison with torch")
    opts = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(fl.get_num_threads())
    except ImportError:
        torch = None
    print(f"fastloss {fl.__version__}: OpenMP {'on' if fl.has_openmp() else 'off'}, {fl.get_num_threads()} threads; "
          f"torch {'not installed' if torch is None else torch.__version__}")
    header = f"{'loss':34} {'value':>12} {'|grad|':>10}"
    if torch is not None:
        header += f" {'max |diff| value':>17} {'max |diff| grad':>16}"
        if not opts.no_timing:
            header += f" {'speed-up':>9}"
    print(header)
    failures = 0
    rng = np.random.default_rng(0)
    for title, name, args, kwargs, wrt in examples(rng):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss, grads = fl.value_and_grad(name, *args, wrt=wrt, **kwargs)
            gnorm = float(np.sqrt(sum(float(np.sum(np.square(grads[w], dtype=np.float64))) for w in wrt)))
            line = f"{title:34} {float(loss):12.6f} {gnorm:10.4f}"
            if torch is not None:
                tloss, tgrads, run = _torch_run(torch, name, args, kwargs, wrt)
                dv = float(np.max(np.abs(loss - tloss)))
                dg = max(float(np.max(np.abs(grads[w] - g), initial=0.0)) for w, g in zip(wrt, tgrads))
                scale = max(1.0, abs(float(tloss)))
                if not (dv <= 1e-4 * scale and dg <= 1e-4 * max(1.0, gnorm)):
                    failures += 1
                line += f" {dv:17.2e} {dg:16.2e}"
                if not opts.no_timing:
                    ours = _median_time(lambda: fl.value_and_grad(name, *args, wrt=wrt, **kwargs))
                    theirs = _median_time(run)
                    line += f" {theirs / ours:8.1f}x"
        print(line)
    if torch is not None:
        print("\nspeed-up: torch forward+backward time / fastloss value_and_grad time (median, these small examples)")
        print("all losses agree with torch" if not failures else f"{failures} losses DISAGREE with torch")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
