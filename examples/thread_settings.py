"""Thread settings for a process running torch and fastloss: the CTC training step of
train_ctc.py (GRU + loss) with torch's loss and with fastloss's, alternating step by step, under
several settings (each in a fresh process, since OpenMP reads its environment at start).

    python examples/thread_settings.py [--steps 10]

Prints, per setting, the mean step time with each loss and the loss's own forward+backward time.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = [
    ("defaults (torch 2, fastloss 2 threads)", {}, []),
    ("OMP_WAIT_POLICY=PASSIVE", {"OMP_WAIT_POLICY": "PASSIVE"}, []),
    ("fastloss 1 thread", {"FASTLOSS_NUM_THREADS": "1"}, []),
    ("torch 1 thread", {}, ["--threads", "1"]),
    ("both 1 thread", {"FASTLOSS_NUM_THREADS": "1"}, ["--threads", "1"]),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--script", default="train_ctc.py")
    args = parser.parse_args(argv)
    print(f"{'setting':<40} {'step ms torch':>14} {'step ms fastloss':>17} {'loss ms torch':>14} {'fastloss':>9}")
    for label, env, extra in SETTINGS:
        full_env = dict(os.environ, **env)
        full_env.setdefault("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
        out = subprocess.run([sys.executable, os.path.join(HERE, args.script), "--epochs", "2", "--steps",
                              str(args.steps), *extra], capture_output=True, text=True, env=full_env,
                             check=True).stdout
        # the last epoch's row (warm): epoch, losses, step ms torch, step ms fastloss, loss ms torch, fastloss
        row = [line for line in out.splitlines() if re.match(r"\s+1\s", line)][-1].split()
        print(f"{label:<40} {row[3]:>14} {row[4]:>17} {row[5]:>14} {row[6]:>9}")


if __name__ == "__main__":
    main()
