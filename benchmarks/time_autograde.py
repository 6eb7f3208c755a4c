"""Seconds to autograde one submission per chapter with real nbgrader (README,
"Instructors").

Usage: python benchmarks/time_autograde.py [NOTEBOOK ...]   (default: every chapter)
Each chapter is released into a temporary course directory with the book's
nbgrader_config.py, its answer key is submitted as one student's notebook, and `nbgrader
autograde` is timed from start to end (process start, sanitizing, the guard, the whole
chapter's execution, gradebook): wall-clock seconds and the CPU seconds of nbgrader and
its kernel (less sensitive to a loaded machine). With --repeats N each chapter is
autograded N times (one after another): the table shows the median and the range.
Needs the `course` extra and a filled pre-training store ($SSL_STORE). Exits 1 when a
chapter's median wall-clock time exceeds the 30 s target.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "course"))
import ssl_course  # noqa: E402

TARGET_S = 30.0


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def autograde_seconds(notebook: Path, work: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `nbgrader autograde` on the chapter's key, in work."""
    course = work / notebook.stem
    aid = ssl_course.assignment_id(notebook)
    if ssl_course.release([notebook], course):
        raise ValueError(
            f"{notebook.name}: the release leaks; run course/ssl_course.py release to "
            "see what"
        )
    target = course / "submitted" / "timing" / aid / notebook.name
    target.parent.mkdir(parents=True)
    target.write_bytes(notebook.read_bytes())
    argv, env = ssl_course.nbgrader_command("autograde", aid, course=course)
    start, cpu = time.perf_counter(), children_cpu_seconds()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start, children_cpu_seconds() - cpu


def spread(values: list[float]) -> str:
    """'median' of one value, 'median (min–max)' of several, in whole seconds."""
    median = f"{statistics.median(values):.0f}"
    return (
        median
        if len(values) == 1
        else f"{median} ({min(values):.0f}–{max(values):.0f})"
    )


def main(argv: list[str] | None = None) -> int:
    """Time each chapter, print a markdown table; 1 if any exceeds the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument(
        "--repeats", type=int, default=1, help="autograde runs per chapter (default 1)"
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    notebooks = args.notebooks or ssl_course.chapters()
    print(
        "| chapter | autograde wall (s) | autograde CPU (s) | wall within 30 s "
        "|\n|---|---:|---:|---|"
    )
    slow = 0
    for notebook in notebooks:
        walls, cpus = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as work:
                wall, cpu = autograde_seconds(notebook.resolve(), Path(work))
            walls.append(wall)
            cpus.append(cpu)
        ok = statistics.median(walls) <= TARGET_S
        slow += not ok
        print(
            f"| {notebook.name[:2]} | {spread(walls)} | {spread(cpus)} | "
            f"{'yes' if ok else 'NO'} |",
            flush=True,
        )
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
