"""Turn a pytest-benchmark JSON run into a Markdown table of speed-ups (and a PNG chart).

    python benchmarks/report.py RESULTS.json [MORE.json ...] [--markdown OUT.md] [--png OUT.png]

For each group (loss x size): median times of each contender (for small calls, timed in batches,
the best batch), with several runs of the same benchmarks the median over the runs (shared
machines are noisy), then
``forward speed-up = torch-forward / fastloss-forward``,
``grad speed-up = torch-forward+backward / fastloss-value_and_grad`` and, where the group has a
floor, ``fastloss-forward / floor`` (1.0 = as fast as reading the inputs once).
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict


def load(paths):
    """``(machine_info, {group: {contender: median seconds}})`` over one or more runs."""
    samples = defaultdict(lambda: defaultdict(list))
    machine = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        machine = data.get("machine_info", machine)
        for bench in data["benchmarks"]:
            info = bench.get("extra_info", {})
            contender = info.get("contender") or bench["name"]
            # small calls were timed in batches: their best batch (a median is noise there)
            stat = "min" if info.get("small") else "median"
            samples[bench["group"]][contender].append(bench["stats"][stat])
    groups = {g: {c: statistics.median(v) for c, v in cs.items()} for g, cs in samples.items()}
    return machine, groups, len(paths)


def rows(groups):
    out = []
    for group in sorted(groups):
        t = groups[group]
        fwd = t.get("fastloss-forward")
        vag = t.get("fastloss-value_and_grad")
        tf = t.get("torch-forward")
        tfb = t.get("torch-forward+backward")
        floor = t.get("floor")
        out.append(dict(
            group=group, fwd=fwd, vag=vag, torch_fwd=tf, torch_fb=tfb, floor=floor,
            fwd_speedup=(tf / fwd) if tf and fwd else None,
            grad_speedup=(tfb / vag) if tfb and vag else None,
            floor_ratio=(fwd / floor) if floor and fwd else None,
        ))
    return out


def _ms(v):
    return "" if v is None else (f"{v * 1e3:.4f}" if v < 1e-4 else f"{v * 1e3:.3f}" if v < 0.01 else f"{v * 1e3:.1f}")


def _x(v):
    return "" if v is None else f"{v:.2f}x"


def markdown(machine, table, runs=1):
    cpu = machine.get("cpu", {}).get("brand_raw", "unknown CPU")
    over = f", median over {runs} runs" if runs > 1 else ""
    lines = [f"Machine: {cpu}; times are medians in ms{over}.", "",
             "| group | fastloss fwd | fastloss value_and_grad | torch fwd | torch fwd+bwd | fwd speed-up "
             "| grad speed-up | fwd / floor |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table:
        lines.append(f"| {r['group']} | {_ms(r['fwd'])} | {_ms(r['vag'])} | {_ms(r['torch_fwd'])} "
                     f"| {_ms(r['torch_fb'])} | "
                     f"{_x(r['fwd_speedup'])} | {_x(r['grad_speedup'])} | {_x(r['floor_ratio'])} |")
    return "\n".join(lines) + "\n"


def chart(table, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart", file=sys.stderr)
        return False
    table = [r for r in table if r["fwd_speedup"] or r["grad_speedup"]]
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(table)), 4))
    xs = range(len(table))
    ax.bar([x - 0.2 for x in xs], [r["fwd_speedup"] or 0 for r in table], 0.4, label="forward")
    ax.bar([x + 0.2 for x in xs], [r["grad_speedup"] or 0 for r in table], 0.4, label="value_and_grad vs fwd+bwd")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r["group"] for r in table], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("speed-up over torch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+")
    parser.add_argument("--markdown", help="write the table here too")
    parser.add_argument("--png", help="write a bar chart here (needs matplotlib)")
    args = parser.parse_args(argv)
    machine, groups, runs = load(args.results)
    table = rows(groups)
    text = markdown(machine, table, runs)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.png:
        chart(table, args.png)


if __name__ == "__main__":
    main()
