"""Seconds to autograde one submission per chapter with real nbgrader (README,
"Instructors").

Usage: python benchmarks/time_autograde.py [NOTEBOOK ...]   (default: every chapter)
Each chapter is released into a temporary course directory with the book's
nbgrader_config.py, its answer key is submitted as one student's notebook, and `nbgrader
autograde` is timed from start to end (process start, sanitizing, the guard, the whole
chapter's execution, gradebook): wall-clock seconds and the CPU seconds of nbgrader and
its kernel (less sensitive to a loaded machine). Needs the `course` extra and a filled
pre-training store ($SSL_STORE). Exits 1 when a chapter exceeds the 30 s target.
"""

from __future__ import annotations

import argparse
import resource
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


def main(argv: list[str] | None = None) -> int:
    """Time each chapter, print a markdown table; 1 if any exceeds the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    notebooks = args.notebooks or ssl_course.chapters()
    print(
        "| chapter | autograde wall (s) | autograde CPU (s) | wall within 30 s "
        "|\n|---|---:|---:|---|"
    )
    slow = 0
    with tempfile.TemporaryDirectory() as work:
        for notebook in notebooks:
            wall, cpu = autograde_seconds(notebook.resolve(), Path(work))
            slow += wall > TARGET_S
            print(
                f"| {notebook.name[:2]} | {wall:.0f} | {cpu:.0f} | "
                f"{'yes' if wall <= TARGET_S else 'NO'} |",
                flush=True,
            )
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
