"""Train a small GRU with CTC on synthetic sequences, on the CPU: ``fastloss.torch.ctc_loss`` against
``torch.nn.functional.ctc_loss`` on the same model, initial weights and batches.

    python examples/train_ctc.py            # about 20 s on 2 cores
    python examples/train_ctc.py --quick    # a few steps (the test suite runs this)

The data: label sequences over 28 symbols; each label becomes 1-4 frames of a noisy 16-dimensional
code of that label, with noise frames between some of them. The model (GRU, 48 hidden units, then
a linear layer to 29 classes, blank = 0) learns to read the labels back.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _compare import compare  # noqa: E402

import fastloss.torch as flt  # noqa: E402

FEATURES, CLASSES = 16, 29  # 28 labels + blank


class Reader(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.gru = torch.nn.GRU(FEATURES, hidden)
        self.out = torch.nn.Linear(hidden, CLASSES)

    def forward(self, x):
        return self.out(self.gru(x)[0])


def make_batch(generator, codes, batch, max_labels):
    """(frames (T, N, F), (targets (N, S), input_lengths, target_lengths))."""
    sequences, lengths, labels = [], [], []
    for _ in range(batch):
        n = int(torch.randint(max_labels // 2, max_labels + 1, (), generator=generator))
        seq = torch.randint(1, CLASSES, (n,), generator=generator)
        frames = []
        for label in seq.tolist():
            repeat = int(torch.randint(1, 5, (), generator=generator))
            frames.append(codes[label].expand(repeat, FEATURES))
            if torch.rand((), generator=generator) < 0.3:
                frames.append(torch.zeros(1, FEATURES))
        x = torch.cat(frames)
        sequences.append(x + 0.3 * torch.randn(x.shape, generator=generator))
        lengths.append(x.shape[0])
        labels.append(seq)
    T = max(lengths)
    frames = torch.zeros(T, batch, FEATURES)
    targets = torch.zeros(batch, max_labels, dtype=torch.long)
    for n, (x, seq) in enumerate(zip(sequences, labels)):
        frames[: x.shape[0], n] = x
        targets[n, : seq.numel()] = seq
    target_lengths = torch.tensor([s.numel() for s in labels])
    return frames, (targets, torch.tensor(lengths), target_lengths)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short epoch (for the test suite)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20, help="steps per epoch")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-labels", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.steps, args.batch, args.max_labels = 1, 3, 8, 10
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    codes = torch.randn(CLASSES, FEATURES)
    model = Reader(hidden=48)

    def batches(epoch):
        generator = torch.Generator().manual_seed(1000 + epoch)
        return [make_batch(generator, codes, args.batch, args.max_labels) for _ in range(args.steps)]

    def optimizer(params):
        return torch.optim.Adam(params, lr=3e-3)

    worst = compare(model, optimizer, args.epochs, batches, torch.nn.functional.ctc_loss, flt.ctc_loss,
                    lambda logits: logits.log_softmax(-1), "CTC, GRU reader")
    if worst > 1e-3:
        raise SystemExit(f"the two runs' losses differ by {worst:.2e} (relative): more than float tolerance")


if __name__ == "__main__":
    main()
