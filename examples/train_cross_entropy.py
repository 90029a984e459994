"""Train a small next-token model with cross_entropy over a large vocabulary, on the CPU:
``fastloss.torch.cross_entropy`` against ``torch.nn.functional.cross_entropy`` on the same model,
initial weights and batches.

    python examples/train_cross_entropy.py            # about 20 s on 2 cores
    python examples/train_cross_entropy.py --quick    # a few steps (the test suite runs this)

The data: token streams from a random sparse Markov chain over the vocabulary (each token has 4
likely successors); the model (an embedding of the previous two tokens, one hidden layer, then a
linear layer to the vocabulary) learns the transitions. With a large vocabulary the loss over
(batch, vocabulary) logits is a large part of the step.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _compare import compare  # noqa: E402

import fastloss.torch as flt  # noqa: E402


class NextToken(torch.nn.Module):
    def __init__(self, vocabulary, width):
        super().__init__()
        self.embed = torch.nn.Embedding(vocabulary, width)
        self.hidden = torch.nn.Linear(2 * width, width)
        self.out = torch.nn.Linear(width, vocabulary)

    def forward(self, context):
        h = self.embed(context).flatten(1)
        return self.out(torch.tanh(self.hidden(h)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short epoch (for the test suite)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=15, help="steps per epoch")
    parser.add_argument("--batch", type=int, default=2048, help="tokens per step")
    parser.add_argument("--vocabulary", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.steps, args.batch, args.vocabulary = 1, 3, 64, 500
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    V = args.vocabulary
    successors = torch.randint(0, V, (V, 4))
    model = NextToken(V, width=64)

    def batches(epoch):
        generator = torch.Generator().manual_seed(2000 + epoch)
        out = []
        for _ in range(args.steps):
            context = torch.randint(0, V, (args.batch, 2), generator=generator)
            choice = torch.randint(0, 4, (args.batch,), generator=generator)
            out.append((context, (successors[context[:, 1], choice],)))
        return out

    def optimizer(params):
        return torch.optim.Adam(params, lr=1e-2)

    worst = compare(model, optimizer, args.epochs, batches, torch.nn.functional.cross_entropy, flt.cross_entropy,
                    lambda logits: logits, f"cross_entropy, {V} classes, {args.batch} tokens per step")
    if worst > 1e-4:
        raise SystemExit(f"the two runs' losses differ by {worst:.2e} (relative): more than float tolerance")


if __name__ == "__main__":
    main()
