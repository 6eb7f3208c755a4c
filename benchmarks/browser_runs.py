"""Run the browser tests (tests/test_browser.py, as CI runs them: CI=1) N times in a
row; one line per run.

Each run is a fresh pytest process: JupyterLab and Chromium start anew, every widget
chapter is run with "Restart Kernel and Run All" once its kernel is idle, every control
of every widget is moved, and the static book is checked. A failed run's log is kept and
its failing tests printed. Usage: python benchmarks/browser_runs.py [--runs 10]
[--log-dir DIR]   (issue 27: 10 out of 10). Exit status 0 only if every run passed. Run
it with `nice -n 10` on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/test_browser.py"


def run_once(log: Path) -> tuple[bool, str, float]:
    """One pytest run of the browser tests, CI=1, log to log; (passed, summary, s)."""
    env = {**os.environ, "CI": "1", "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    with log.open("w") as out:
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                TEST,
                "-q",
                "-rfE",
                "-p",
                "no:cacheprovider",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    text = log.read_text(errors="replace")
    summary = next(
        (
            line.strip("= ")
            for line in reversed(text.splitlines())
            if re.search(r"\d+ (passed|failed)", line)
        ),
        f"no pytest summary (exit status {code})",
    )
    return code == 0, summary, time.monotonic() - start


def failures(log: Path) -> list[str]:
    """The 'FAILED ...' / 'ERROR ...' lines of a pytest log (its -rfE summary)."""
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith(("FAILED", "ERROR"))
    ]


def main(runs: int, log_dir: Path) -> bool:
    """Run the browser tests runs times, print each and a summary; True if all pass."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    log_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for i in range(1, runs + 1):
        log = log_dir / f"run{i:02d}.log"
        passed, summary, seconds = run_once(log)
        results.append((passed, seconds))
        stamp = time.strftime("%H:%M:%S", time.gmtime())
        print(
            f"run {i:2d}/{runs}: {'PASS' if passed else 'FAIL'}  {summary}  "
            f"({seconds:.0f} s, ended {stamp} UTC)",
            flush=True,
        )
        for line in [] if passed else failures(log) or [f"see {log}"]:
            print(f"    {line[:300]}  (log {log})", flush=True)
    n_passed = sum(passed for passed, _ in results)
    seconds = [s for _, s in results]
    print(
        f"SUMMARY: {n_passed} of {runs} runs passed in a row: "
        f"{'yes' if n_passed == runs else 'no'}; "
        f"run time median {statistics.median(seconds):.0f} s, longest "
        f"{max(seconds):.0f} s; logs in {log_dir}",
        flush=True,
    )
    return n_passed == runs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=10, help="how many runs in a row (default 10)"
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "browser_runs",
        help="where each run's pytest log is kept",
    )
    options = parser.parse_args()
    sys.exit(0 if main(options.runs, options.log_dir) else 1)
