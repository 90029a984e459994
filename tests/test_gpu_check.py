"""``python -m fastloss._gpu.check``: every kernel the GPU backend can launch compiles with NVRTC
for sm_80 and sm_90 without errors, warnings or register spills (no GPU needed; skipped where
NVRTC is not installed: ``pip install ".[gpu]"``)."""
import subprocess
import sys

import pytest


def _nvrtc_missing():
    try:
        from fastloss._gpu.check import nvrtc_compiler

        nvrtc_compiler()
    except Exception as exc:
        return str(exc)
    return None


_MISSING = _nvrtc_missing()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"NVRTC is not available ({_MISSING})")


def test_every_kernel_compiles_for_sm80_and_sm90_without_warnings_or_spills():
    proc = subprocess.run([sys.executable, "-m", "fastloss._gpu.check"], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert " 0 problems" in proc.stdout
    from fastloss._gpu import FAMILIES
    from fastloss._gpu._runtime import kernel_names

    expected = 2 * sum(len(kernel_names(f)) for f in FAMILIES)
    assert f"{expected} kernel instantiations compiled" in proc.stdout


def test_check_reports_a_compile_error_and_a_missing_kernel(monkeypatch):
    from fastloss._gpu import _runtime, check

    compile_program, _ = check.nvrtc_compiler()
    real = _runtime.source("elementwise")
    monkeypatch.setattr(check, "source", lambda family: real.replace("const T d = x - y;", "const T d = x - y", 1))
    problems, _ = check.check_family(compile_program, "elementwise", "sm_80")
    assert problems and "compile error" in problems[0]
    monkeypatch.setattr(check, "source", lambda family: real.replace("FL_EW_ENTRY(kl_div_log, KlDivLog)", ""))
    problems, _ = check.check_family(compile_program, "elementwise", "sm_80")
    assert problems and any("compile error" in p or "not defined" in p for p in problems)


def test_check_reports_warnings_and_spills():
    from fastloss._gpu import check

    log = ("ptxas info    : Compiling entry function 'k' for 'sm_80'\n"
           "ptxas info    : Function properties for k\n"
           "ptxas         .     8 bytes stack frame, 16 bytes spill stores, 16 bytes spill loads\n"
           "ptxas info    : Used 32 registers, used 0 barriers\n")
    info = check.parse_ptxas(log)
    assert info["k"] == {"stack": 8, "spill_stores": 16, "spill_loads": 16, "registers": 32}
