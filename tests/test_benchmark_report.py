"""benchmarks/report.py: ratios and the median over runs, from pytest-benchmark JSON."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402


def _run(tmp_path, name, times):
    data = {"machine_info": {"cpu": {"brand_raw": "Test CPU"}}, "benchmarks": [
        {"group": "mse_loss-16.8M", "name": c, "extra_info": {"contender": c}, "stats": {"median": t}}
        for c, t in times.items()]}
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_ratios_and_median_over_runs(tmp_path):
    a = _run(tmp_path, "a.json", {"fastloss-forward": 1.0, "fastloss-value_and_grad": 2.0, "torch-forward": 4.0,
                                  "torch-forward+backward": 10.0, "floor": 0.5})
    b = _run(tmp_path, "b.json", {"fastloss-forward": 3.0, "fastloss-value_and_grad": 2.0, "torch-forward": 4.0,
                                  "torch-forward+backward": 10.0, "floor": 0.5})
    c = _run(tmp_path, "c.json", {"fastloss-forward": 2.0, "fastloss-value_and_grad": 2.0, "torch-forward": 4.0,
                                  "torch-forward+backward": 10.0, "floor": 0.5})
    machine, groups, runs = report.load([a, b, c])
    (row,) = report.rows(groups)
    assert runs == 3 and row["fwd"] == 2.0
    assert row["fwd_speedup"] == 2.0 and row["grad_speedup"] == 5.0 and row["floor_ratio"] == 4.0
    text = report.markdown(machine, [row], runs)
    assert "Test CPU" in text and "median over 3 runs" in text
    assert "| mse_loss-16.8M | 2000.0 | 2000.0 | 4000.0 | 10000.0 | 2.00x | 5.00x | 4.00x |" in text


def test_missing_contenders_leave_blank_cells(tmp_path):
    a = _run(tmp_path, "a.json", {"fastloss-forward": 1e-3})
    _, groups, _ = report.load([a])
    (row,) = report.rows(groups)
    assert row["fwd_speedup"] is None and row["grad_speedup"] is None


def test_small_calls_report_their_best_batch(tmp_path):
    data = {"machine_info": {}, "benchmarks": [
        {"group": "mse_loss-tiny", "name": c, "extra_info": {"contender": c, "small": True},
         "stats": {"median": 9e-6, "min": t}}
        for c, t in {"fastloss-forward": 2e-6, "torch-forward": 4e-6}.items()]}
    path = tmp_path / "small.json"
    path.write_text(json.dumps(data))
    _, groups, _ = report.load([str(path)])
    (row,) = report.rows(groups)
    assert row["fwd"] == 2e-6 and row["torch_fwd"] == 4e-6 and row["fwd_speedup"] == 2.0
