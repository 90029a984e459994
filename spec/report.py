"""The conformance report: a loss x property matrix of pass/fail.

    python -m spec.report [pytest args...]       # e.g. HYPOTHESIS_PROFILE=ci python -m spec.report

Runs the spec suite with a small pytest plugin that records each test's outcome, then prints one
row per loss (spec module) and one column per standard property; edge cases and other
properties are counted in the last column. A cell reads ``ok`` (every parametrisation passed),
``FAIL n/m``, ``skip`` or ``-`` (the module has no such property).
"""
import os
import re
import sys
from collections import defaultdict

import pytest

STANDARD = [
    ("test_formula_matches_reference", "formula"),
    ("test_output_shape_and_dtype", "shape/dtype"),
    ("test_layouts_do_not_change_value", "layouts"),
    ("test_gradient_matches_reference", "grad=ref"),
    ("test_gradient_matches_finite_differences", "grad=fd"),
    ("test_invalid_reduction_refused", "bad reduction"),
    ("test_legacy_size_average_reduce", "legacy args"),
    ("test_matches_torch", "torch"),
]


class Recorder:
    def __init__(self):
        self.results = defaultdict(lambda: defaultdict(list))

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            module = report.nodeid.split("::")[0]
            loss = re.sub(r"^test_|\.py$", "", os.path.basename(module))
            test = report.nodeid.split("::")[-1].split("[")[0]
            self.results[loss][test].append(report.outcome)


def _cell(outcomes):
    if not outcomes:
        return "-"
    failed = sum(o == "failed" for o in outcomes)
    if failed:
        return f"FAIL {failed}/{len(outcomes)}"
    if all(o == "skipped" for o in outcomes):
        return "skip"
    return "ok"


def render(results):
    names = [label for _, label in STANDARD]
    header = f"| loss | {' | '.join(names)} | edge cases & other |"
    lines = [header, "|" + "---|" * (len(names) + 2)]
    totals = defaultdict(int)
    for loss in sorted(results):
        tests = results[loss]
        cells = [_cell(tests.get(t, [])) for t, _ in STANDARD]
        others = [o for t, outs in tests.items() if t not in dict(STANDARD) for o in outs]
        passed = sum(o == "passed" for o in others)
        failed = sum(o == "failed" for o in others)
        skipped = len(others) - passed - failed
        extra = f"{passed}/{passed + failed} passed" + (f", {skipped} skipped" if skipped > 0 else "")
        lines.append(f"| {loss} | {' | '.join(cells)} | {extra} |")
        for outs in tests.values():
            for o in outs:
                totals[o] += 1
    lines.append("")
    lines.append(f"Totals: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped.")
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    recorder = Recorder()
    here = os.path.dirname(os.path.abspath(__file__))
    code = pytest.main([here, "-q", "-p", "no:cacheprovider", "--no-header", "-rN", *argv], plugins=[recorder])
    print()
    print(render(recorder.results))
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
