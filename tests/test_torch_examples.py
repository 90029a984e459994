"""The examples run (reduced with --quick) and their two runs agree: so they cannot rot."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.torch

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


@pytest.mark.parametrize("script", ["train_ctc.py", "train_cross_entropy.py"])
def test_example_quick(script):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), "--quick"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "largest relative difference of a step's loss" in result.stdout
