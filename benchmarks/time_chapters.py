"""Time every chapter in a fresh kernel and print a markdown table (the chapters are not
changed).

Usage: python benchmarks/time_chapters.py [NOTEBOOK ...]   (default: every chapter, in
order) Exits 1 when a chapter exceeds its budget (45 s) or the book exceeds its total
(300 s).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = re.compile(r"^(\d\d|A\d)_[a-z0-9_]+\.ipynb$")
CHAPTER_BUDGET_S = 45.0
TOTAL_BUDGET_S = 300.0


def chapters(notebook_dir: Path) -> list[Path]:
    """Chapter notebooks in reading order: 00..99, then appendices."""
    found = [p for p in notebook_dir.glob("*.ipynb") if CHAPTER.match(p.name)]
    return sorted(found, key=lambda p: (p.name.startswith("A"), p.name))


def run_seconds(path: Path, timeout: int) -> float:
    """Wall-clock seconds to execute a copy of the notebook in a fresh kernel."""
    nb = nbformat.read(path, as_version=4)
    client = ExecutePreprocessor(
        timeout=timeout, kernel_name="python3", record_timing=False
    )
    start = time.perf_counter()
    client.preprocess(nb, {"metadata": {"path": str(path.parent)}})
    return time.perf_counter() - start


def markdown_table(rows: list[tuple[str, float]], total: float) -> str:
    """A markdown table fragment: chapter, seconds, and a flag over a budget."""
    lines = ["| chapter | run time (s) | within budget |", "|---|---:|---|"]
    for name, seconds in rows:
        ok = (
            "yes"
            if seconds <= CHAPTER_BUDGET_S
            else f"**no** (> {CHAPTER_BUDGET_S:.0f} s)"
        )
        lines.append(f"| {name} | {seconds:.1f} | {ok} |")
    ok = "yes" if total <= TOTAL_BUDGET_S else f"**no** (> {TOTAL_BUDGET_S:.0f} s)"
    lines.append(f"| **total** | {total:.1f} | {ok} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Time the chapters, print the table, return 1 if a budget is exceeded."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="default: every chapter"
    )
    parser.add_argument(
        "--timeout", type=int, default=300, help="seconds allowed per cell"
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or chapters(ROOT / "notebooks")
    if not paths:
        print("no chapter notebooks found in notebooks/", file=sys.stderr)
        return 1
    rows = []
    for path in paths:
        seconds = run_seconds(path, args.timeout)
        flag = "  OVER BUDGET" if seconds > CHAPTER_BUDGET_S else ""
        print(f"{path.name}: {seconds:.1f} s{flag}", file=sys.stderr, flush=True)
        rows.append((path.name, seconds))
    total = sum(seconds for _, seconds in rows)
    print(
        f"total: {total:.1f} s{'  OVER BUDGET' if total > TOTAL_BUDGET_S else ''}",
        file=sys.stderr,
    )
    print(markdown_table(rows, total))
    over = any(s > CHAPTER_BUDGET_S for _, s in rows) or total > TOTAL_BUDGET_S
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
