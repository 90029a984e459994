"""``import fastloss`` never imports torch (torch is an optional extra): checked in a fresh interpreter."""
import os
import subprocess
import sys


def test_import_fastloss_does_not_import_torch():
    code = ("import sys, fastloss, fastloss.nn, fastloss.functional\n"
            "fastloss.value_and_grad(fastloss.mse_loss, [1.0, 2.0], [0.0, 1.0])\n"
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))\n")
    # the same fastloss as this process (the source tree or an installed wheel)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
