"""Sample calls of every loss for the torch-bridge tests: ``CASES[name]`` is a list of
``(id, make)`` where ``make(dtype)`` returns ``(args, kwargs, differentiable)``: the same call goes
to ``torch.nn.functional.<name>`` and ``fastloss.torch.<name>``; ``differentiable`` names the
positions (in ``args``) or keywords of the floating tensors torch and fastloss differentiate.
Shapes are small (gradcheck) and values keep away from the losses' kinks.
"""
import torch

G = torch.Generator().manual_seed(1234)


def rand(*shape, dtype=torch.float64, low=0.0, high=1.0):
    return low + (high - low) * torch.rand(*shape, generator=G, dtype=torch.float64).to(dtype)


def randn(*shape, dtype=torch.float64):
    return torch.randn(*shape, generator=G, dtype=torch.float64).to(dtype)


def signs(*shape, dtype=torch.float64):
    return torch.where(torch.rand(*shape, generator=G) > 0.5, 1.0, -1.0).to(dtype)


def labels(high, *shape):
    return torch.randint(0, high, shape, generator=G)


def _pair(fn_kwargs=None, weight=False):
    def make(dtype):
        x, y = randn(3, 4, dtype=dtype), randn(3, 4, dtype=dtype)
        kw = dict(fn_kwargs or {})
        diff = [0, 1]
        if weight:
            kw["weight"] = rand(3, 4, dtype=dtype, low=0.5)
        return (x, y), kw, diff
    return make


def _class_index(loss, spatial=False, **extra):
    def make(dtype):
        if spatial:
            x, t = randn(2, 4, 3, dtype=dtype), labels(4, 2, 3)
        else:
            x, t = randn(5, 4, dtype=dtype), labels(4, 5)
        if loss == "nll_loss":
            x = x.log_softmax(1)
        kw = dict(extra)
        if "weight" in kw:
            kw["weight"] = rand(4, dtype=dtype, low=0.5)
        return (x, t), kw, [0]
    return make


def _ce_probabilities(dtype):
    return (randn(5, 4, dtype=dtype), rand(5, 4, dtype=dtype).softmax(1)), {"label_smoothing": 0.1}, [0, 1]


def _bce(weight):
    def make(dtype):
        kw = {"weight": rand(3, 4, dtype=dtype, low=0.5)} if weight else {}
        return (rand(3, 4, dtype=dtype, low=0.1, high=0.9), rand(3, 4, dtype=dtype)), kw, [0, 1]
    return make


def _bce_logits(dtype):
    kw = {"weight": rand(3, 4, dtype=dtype, low=0.5), "pos_weight": rand(4, dtype=dtype, low=0.5)}
    return (randn(3, 4, dtype=dtype), rand(3, 4, dtype=dtype)), kw, [0, 1]


def _kl(log_target, reduction):
    def make(dtype):
        x = randn(3, 4, dtype=dtype).log_softmax(1)
        t = randn(3, 4, dtype=dtype).log_softmax(1)
        return (x, t if log_target else t.exp()), {"log_target": log_target, "reduction": reduction}, [0, 1]
    return make


def _poisson(log_input, full):
    def make(dtype):
        x = randn(3, 4, dtype=dtype) if log_input else rand(3, 4, dtype=dtype, low=0.5, high=2.0)
        return (x, rand(3, 4, dtype=dtype, high=3.0)), {"log_input": log_input, "full": full}, [0, 1]
    return make


def _gaussian(var_shape):
    def make(dtype):
        x, y = randn(3, 4, dtype=dtype), randn(3, 4, dtype=dtype)
        if var_shape is None:
            return (x, y, 0.7), {"full": True}, [0, 1]
        return (x, y, rand(*var_shape, dtype=dtype, low=0.2, high=2.0)), {}, [0, 1, 2]
    return make


def _hinge(dtype):
    return (randn(3, 4, dtype=dtype), signs(3, 4, dtype=dtype)), {"margin": 0.5}, [0]


def _soft_margin(dtype):
    return (randn(3, 4, dtype=dtype), signs(3, 4, dtype=dtype)), {}, [0]


def _multilabel_margin(dtype):
    target = torch.tensor([[3, 0, -1, 1], [1, 2, 3, -1], [0, -1, 2, 2]])
    return (randn(3, 4, dtype=dtype), target), {}, [0]


def _multilabel_soft_margin(dtype):
    return (randn(3, 4, dtype=dtype), (rand(3, 4) > 0.5).to(dtype)), {}, [0, 1]


def _cosine(dtype):
    return (randn(4, 5, dtype=dtype), randn(4, 5, dtype=dtype), signs(4, dtype=dtype)), {"margin": 0.1}, [0, 1]


def _ranking(dtype):
    return (randn(5, dtype=dtype), randn(5, dtype=dtype), signs(5, dtype=dtype)), {"margin": 0.2}, [0, 1, 2]


def _multi_margin(p, weight):
    def make(dtype):
        kw = {"p": p, "margin": 0.9}
        if weight:
            kw["weight"] = rand(4, dtype=dtype, low=0.5)
        return (randn(5, 4, dtype=dtype), labels(4, 5)), kw, [0]
    return make


def _triplet(**kw):
    def make(dtype):
        return (randn(4, 5, dtype=dtype), randn(4, 5, dtype=dtype), randn(4, 5, dtype=dtype)), dict(kw), [0, 1, 2]
    return make


def _triplet_distance(distance):
    def make(dtype):
        kw = {"swap": True}
        if distance is not None:
            kw["distance_function"] = distance()
        return (randn(4, 5, dtype=dtype), randn(4, 5, dtype=dtype), randn(4, 5, dtype=dtype)), kw, [0, 1, 2]
    return make


def _ctc(batched=True, concatenated=False, reduction="mean", zero_infinity=False, lists=False):
    def make(dtype):
        T, N, C = 12, 3, 5
        lp = randn(T, N, C, dtype=dtype).log_softmax(2)
        target_lengths = torch.tensor([4, 1, 3])
        input_lengths = torch.tensor([12, 9, 11])
        targets = torch.randint(1, C, (N, 4), generator=G)
        if concatenated:
            targets = torch.cat([targets[n, :target_lengths[n]] for n in range(N)])
        if not batched:
            lp, targets, input_lengths, target_lengths = lp[:, 0], targets[0], input_lengths[:1], target_lengths[:1]
        kw = {"reduction": reduction, "zero_infinity": zero_infinity}
        if lists:  # torch takes lengths as tensors or as tuples/lists (both the same kind)
            input_lengths, target_lengths = input_lengths.tolist(), tuple(target_lengths.tolist())
        return (lp, targets, input_lengths, target_lengths), kw, [0]
    return make


REDUCTIONS = ("mean", "sum", "none")

CASES = {
    "l1_loss": [("plain", _pair()), ("weight", _pair(weight=True))],
    "mse_loss": [("plain", _pair()), ("weight", _pair(weight=True))],
    "smooth_l1_loss": [("beta", _pair({"beta": 0.5}))],
    "huber_loss": [("delta", _pair({"delta": 0.7})), ("weight", _pair({"delta": 0.7}, weight=True))],
    "nll_loss": [("plain", _class_index("nll_loss")),
                 ("spatial_weight_ignore", _class_index("nll_loss", spatial=True, weight=True, ignore_index=2))],
    "cross_entropy": [("indices", _class_index("cross_entropy", label_smoothing=0.2)),
                      ("spatial_weight", _class_index("cross_entropy", spatial=True, weight=True, ignore_index=1)),
                      ("probabilities", _ce_probabilities)],
    "binary_cross_entropy": [("plain", _bce(False)), ("weight", _bce(True))],
    "binary_cross_entropy_with_logits": [("weights", _bce_logits)],
    "kl_div": [("batchmean", _kl(False, "batchmean")), ("log_target", _kl(True, "sum"))],
    "poisson_nll_loss": [("log_input", _poisson(True, False)), ("full", _poisson(False, True))],
    "gaussian_nll_loss": [("var_same", _gaussian((3, 4))), ("var_last1", _gaussian((3, 1))),
                          ("var_float", _gaussian(None))],
    "hinge_embedding_loss": [("margin", _hinge)],
    "multilabel_margin_loss": [("plain", _multilabel_margin)],
    "soft_margin_loss": [("plain", _soft_margin)],
    "multilabel_soft_margin_loss": [("plain", _multilabel_soft_margin)],
    "cosine_embedding_loss": [("margin", _cosine)],
    "margin_ranking_loss": [("margin", _ranking)],
    "multi_margin_loss": [("p1", _multi_margin(1, False)), ("p2_weight", _multi_margin(2, True))],
    "triplet_margin_loss": [("p2", _triplet()), ("p1_swap", _triplet(p=1.0, swap=True, margin=0.5))],
    "triplet_margin_with_distance_loss": [
        ("default", _triplet_distance(None)),
        ("pairwise_p1", _triplet_distance(lambda: torch.nn.PairwiseDistance(p=1.0))),
        ("cosine", _triplet_distance(lambda: __import__("fastloss.torch.nn").torch.nn.CosineDistance())),
    ],
    "ctc_loss": [("mean", _ctc()), ("sum_concatenated_lists", _ctc(concatenated=True, reduction="sum", lists=True)),
                 ("none", _ctc(reduction="none")), ("unbatched", _ctc(batched=False)),
                 ("zero_infinity", _ctc(zero_infinity=True))],
}
