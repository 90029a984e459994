"""Shared by the examples: train the same model on the same batches twice, once with torch's loss and
once with fastloss's, and print per-epoch losses and times side by side.

The two runs alternate step by step (same machine load for both). A step is split so that the
loss's own cost is visible: the model's forward, the loss forward and backward on a detached leaf
(what differs between the two runs), then the model's backward from that leaf's gradient and the
optimizer step.
"""
import copy
import time

import torch


class Run:
    """One model, its optimizer and loss, and per-step records (loss, step time, loss time)."""

    def __init__(self, model, optimizer_factory, loss_fn, to_loss_input):
        self.model, self.loss_fn, self.to_loss_input = model, loss_fn, to_loss_input
        self.optimizer = optimizer_factory(model.parameters())
        self.losses, self.step_times, self.loss_times = [], [], []

    def step(self, inputs, loss_args):
        t0 = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        out = self.to_loss_input(self.model(inputs))
        leaf = out.detach().requires_grad_()
        t1 = time.perf_counter()
        loss = self.loss_fn(leaf, *loss_args)
        loss.backward()
        t2 = time.perf_counter()
        out.backward(leaf.grad)
        self.optimizer.step()
        t3 = time.perf_counter()
        self.losses.append(loss.item())
        self.step_times.append(t3 - t0)
        self.loss_times.append(t2 - t1)


def compare(model, optimizer_factory, epochs, make_batches, torch_loss, fastloss_loss, to_loss_input, label):
    """Train copies of ``model`` with both losses; print a table; return the largest relative
    difference between the two runs' per-step losses."""
    runs = {name: Run(copy.deepcopy(model), optimizer_factory, loss_fn, to_loss_input)
            for name, loss_fn in (("torch", torch_loss), ("fastloss", fastloss_loss))}
    steps_per_epoch = []
    for epoch in range(epochs):
        batches = make_batches(epoch)
        steps_per_epoch.append(len(batches))
        for inputs, loss_args in batches:
            # the two runs alternate step by step: both see the same machine load
            runs["torch"].step(inputs, loss_args)
            runs["fastloss"].step(inputs, loss_args)
    print(f"{label}: torch {torch.__version__}, {torch.get_num_threads()} torch threads")
    print(f"{'epoch':>5} {'loss torch':>12} {'loss fastloss':>14} {'step ms torch':>14} {'step ms fastloss':>17} "
          f"{'loss fwd+bwd ms torch':>22} {'fastloss':>9} {'speed-up':>9}")
    worst = 0.0
    totals = {"torch": [0.0, 0.0], "fastloss": [0.0, 0.0]}
    first = 0
    for epoch, steps in enumerate(steps_per_epoch):
        part = slice(first, first + steps)
        first += steps
        (lt, st, ct), (lf, sf, cf) = ((r.losses[part], r.step_times[part], r.loss_times[part])
                                      for r in (runs["torch"], runs["fastloss"]))
        worst = max([worst] + [abs(a - b) / max(abs(a), 1e-30) for a, b in zip(lt, lf)])
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        print(f"{epoch:>5} {mean(lt):>12.6f} {mean(lf):>14.6f} {1e3 * mean(st):>14.2f} {1e3 * mean(sf):>17.2f} "
              f"{1e3 * mean(ct):>22.3f} {1e3 * mean(cf):>9.3f} {mean(ct) / mean(cf):>8.1f}x")
        # the first epoch includes warm-up (thread pools, allocator): the totals skip it when there are more
        if epoch > 0 or epochs == 1:
            totals["torch"][0] += sum(st)
            totals["torch"][1] += sum(ct)
            totals["fastloss"][0] += sum(sf)
            totals["fastloss"][1] += sum(cf)
    (st, ct), (sf, cf) = totals["torch"], totals["fastloss"]
    print(f"whole steps: {st / sf:.2f}x faster with fastloss; the loss alone (forward+backward): {ct / cf:.1f}x; "
          f"largest relative difference of a step's loss: {worst:.2e}")
    return worst
