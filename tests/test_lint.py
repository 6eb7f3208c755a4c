"""The code passes ruff with the settings in pyproject.toml ([tool.ruff]): no line over
88 characters, no syntax error or undefined name, and `ruff format` would change
nothing.

Runs over helpers, tests, benchmarks, book, course and the chapters' code cells (ruff
reads the .ipynb; the .py twins are excluded). `make lint` runs this file; a failure
lists the lines.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
EXERCISES_HEADING = re.compile(r"^#{1,6}\s*Exercises\b", re.IGNORECASE | re.MULTILINE)
SHOWN = 200  # lines of ruff's report shown in a failure

# Being edited on other branches when the code was reformatted: the lead formats them
# after merging, then empties PENDING and sets PENDING_EXERCISES to False
# (LINT_TODO.md).
PENDING = ()
PENDING_EXERCISES = False  # True skips the chapters' cells from "Exercises" to the end


def ruff(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ruff with the repository's settings; its report is in stdout."""
    command = [sys.executable, "-m", "ruff", *map(str, args), "--config", str(CONFIG)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def report(result: subprocess.CompletedProcess) -> str:
    """Ruff's report, cut to its first SHOWN lines."""
    lines = (result.stdout + result.stderr).splitlines()
    more = [f"... and {len(lines) - SHOWN} more lines"] if len(lines) > SHOWN else []
    return "\n".join(lines[:SHOWN] + more)


def before_exercises(notebook: Path, folder: Path) -> Path:
    """A copy of a chapter in folder with only the cells before its Exercises."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = nb["cells"]
    starts = [
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "markdown"
        and EXERCISES_HEADING.search("".join(cell["source"]))
    ]
    nb["cells"] = cells[: starts[0]] if starts else cells
    copy = folder / notebook.name
    copy.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return copy


def targets(tmp_path: Path) -> list[tuple[list[str | Path], Path]]:
    """(arguments naming what to lint, directory to run in), repo and chapters."""
    excluded = [*PENDING, "notebooks/*.ipynb"] if PENDING_EXERCISES else [*PENDING]
    repo = [".", *(f"--extend-exclude={pattern}" for pattern in excluded)]
    if not PENDING_EXERCISES:
        return [(repo, ROOT)]
    chapters = sorted((ROOT / "notebooks").glob("*.ipynb"))
    return [
        (repo, ROOT),
        ([before_exercises(nb, tmp_path) for nb in chapters], tmp_path),
    ]


def test_ruff_check(tmp_path: Path) -> None:
    """No long line, syntax error or undefined name (`ruff check`)."""
    for args, cwd in targets(tmp_path):
        result = ruff("check", "--output-format=concise", "--no-cache", *args, cwd=cwd)
        if result.returncode != 0:
            pytest.fail(f"ruff check in {cwd}:\n{report(result)}", pytrace=False)


def test_ruff_format(tmp_path: Path) -> None:
    """`ruff format` would change nothing (the diff it would apply is shown)."""
    for args, cwd in targets(tmp_path):
        result = ruff("format", "--diff", "--no-cache", *args, cwd=cwd)
        if result.returncode != 0:
            pytest.fail(f"ruff format in {cwd}:\n{report(result)}", pytrace=False)


def test_the_settings_catch_a_long_line_and_bad_layout(tmp_path: Path) -> None:
    """The repository's settings flag an 89-character line and an unformatted file."""
    bad = tmp_path / "bad.py"
    bad.write_text(f"x = {'1' * 85}\ny = [1,2]\n")
    check = ruff("check", "--output-format=concise", "--no-cache", bad, cwd=tmp_path)
    assert check.returncode != 0 and "bad.py:1:89: E501" in check.stdout, check.stdout
    layout = ruff("format", "--check", "--no-cache", bad, cwd=tmp_path)
    assert layout.returncode != 0, layout.stdout + layout.stderr
