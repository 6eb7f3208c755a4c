"""The code passes ruff with the settings in pyproject.toml ([tool.ruff]): no line over
88 characters, no syntax error or undefined name, and `ruff format` would change
nothing.

Runs over helpers, tests, benchmarks, book, course and the chapters' code cells (ruff
reads the .ipynb; the .py twins are excluded). `make lint` runs this file; a failure
lists the lines.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
SHOWN = 200  # lines of ruff's report shown in a failure


def ruff(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ruff with the repository's settings; its report is in stdout."""
    command = [sys.executable, "-m", "ruff", *map(str, args), "--config", str(CONFIG)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def report(result: subprocess.CompletedProcess) -> str:
    """Ruff's report, cut to its first SHOWN lines."""
    lines = (result.stdout + result.stderr).splitlines()
    more = [f"... and {len(lines) - SHOWN} more lines"] if len(lines) > SHOWN else []
    return "\n".join(lines[:SHOWN] + more)


def test_ruff_check() -> None:
    """No long line, syntax error or undefined name (`ruff check`)."""
    result = ruff("check", "--output-format=concise", "--no-cache", ".")
    if result.returncode != 0:
        pytest.fail(f"ruff check:\n{report(result)}", pytrace=False)


def test_ruff_format() -> None:
    """`ruff format` would change nothing (the diff it would apply is shown)."""
    result = ruff("format", "--diff", "--no-cache", ".")
    if result.returncode != 0:
        pytest.fail(f"ruff format:\n{report(result)}", pytrace=False)


def test_the_settings_catch_a_long_line_and_bad_layout(tmp_path: Path) -> None:
    """The repository's settings flag an 89-character line and an unformatted file."""
    bad = tmp_path / "bad.py"
    bad.write_text(f"x = {'1' * 85}\ny = [1,2]\n")
    check = ruff("check", "--output-format=concise", "--no-cache", bad, cwd=tmp_path)
    assert check.returncode != 0 and "bad.py:1:89: E501" in check.stdout, check.stdout
    layout = ruff("format", "--check", "--no-cache", bad, cwd=tmp_path)
    assert layout.returncode != 0, layout.stdout + layout.stderr
