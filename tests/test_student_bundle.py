"""A term of the course, end to end, with the student bundle in a fresh environment
(issue 26).

`course/ssl_course.py` releases every chapter into a temporary course directory and
writes the student bundle (zip). The test unpacks the zip, creates a fresh virtual
environment (no system or project site-packages) and runs `pip install -r
requirements.txt` in it exactly as the bundle's README tells a student (the index pip is
configured with must be reachable). Then:
- the bundle holds the released notebooks and nothing else from `notebooks/`, and no
  solution;
- each released chapter runs in that environment: every cell before the exercises and
  every code cell of the Exercises section that is neither an answer nor a check runs,
  every blank answer's check cell fails; a probe cell shows the kernel imports `helpers`
  from the bundle's wheel;
- one term's cycle on chapter 00: a due date, release to the course-local exchange
  (owner-only), fetch, validate (the students' config: the grader's timeout) and submit
  by a student on the "hub" route, a second student's notebook dropped in by hand (the
  LMS route), collect, autograde, feedback, export to course/grades.csv.
Measured 240 s under load on the shared 2-core machine with a filled store (release +
bundle + pip install 75 s, the chapters two at a time 105 s, the term 58 s).
Needs the `course` extra (nbgrader); skipped without it.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import venv
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

pytest.importorskip(
    "nbgrader", reason="needs the `course` extra: pip install -e '.[course]'"
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "course"))
import ssl_course  # noqa: E402

NOTEBOOKS = ssl_course.chapters()
PROBE = "import sys, helpers\nprint('PROBE', sys.executable, helpers.__file__)"
DUE = "2026-01-15 17:00:00 UTC"
OPTIONAL = ("torch",)  # appendix A3's extra, not in the bundle's requirements.txt


@pytest.fixture(scope="module")
def term(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Release every chapter, write and unpack the bundle, install it in a new venv."""
    work = tmp_path_factory.mktemp("term")
    course = work / "course"
    assert not ssl_course.release(NOTEBOOKS, course)
    archive = ssl_course.student_bundle(course / "release", course / "student-bundle")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(work / "student")
    bundle = work / "student" / "student-bundle"
    env_dir = work / "student-venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    env = student_env(work, env_dir)
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-r", "requirements.txt"],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return {
        "work": work,
        "course": course,
        "archive": archive,
        "bundle": bundle,
        "python": python,
        "env": env,
    }


def student_env(work: Path, env_dir: Path) -> dict[str, str]:
    """A student's shell: fresh venv first on PATH, no PYTHONPATH, own Jupyter data."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PATH"] = os.pathsep.join([str(env_dir / "bin"), env.get("PATH", "")])
    # no user-level kernelspec or exchange cache
    env["JUPYTER_DATA_DIR"] = str(work / "jupyter-data")
    return env


def run_student_notebook(term: dict, notebook: Path) -> nbformat.NotebookNode:
    """Execute a copy of the bundle's notebook (plus a probe cell) in student's venv."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    copy = notebook.with_name("probe_" + notebook.name)
    nbformat.write(nb, copy)
    subprocess.run(
        [
            term["python"],
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--allow-errors",
            "--inplace",
            "--ExecutePreprocessor.timeout=600",
            copy.name,
        ],
        cwd=copy.parent,
        env=term["env"],
        check=True,
        capture_output=True,
    )
    executed = nbformat.read(copy, as_version=4)
    copy.unlink()
    return executed


def installed(term: dict, module: str) -> bool:
    """Whether the student's environment can import module."""
    return (
        subprocess.run(
            [term["python"], "-c", f"import {module}"],
            env=term["env"],
            capture_output=True,
        ).returncode
        == 0
    )


def cell_errors(cell: dict) -> list[str]:
    """`ename: evalue` of each error output of the cell."""
    return [
        f"{o['ename']}: {o['evalue']}"
        for o in cell.get("outputs", [])
        if o["output_type"] == "error"
    ]


def nbgrader(
    term: dict, *args: str, student: bool = False, cwd: Path | None = None
) -> str:
    """Run one nbgrader command as instructor (repo's config) or student (bundle's)."""
    if student:
        argv = [
            str(term["python"]),
            "-m",
            "nbgrader",
            *args,
            f"--Exchange.root={term['course'] / 'exchange'}",
        ]
        done = subprocess.run(
            argv,
            cwd=cwd or term["bundle"],
            env=term["env"],
            capture_output=True,
            text=True,
        )
    else:
        argv, env = ssl_course.nbgrader_command(*args, course=term["course"])
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, (
        f"nbgrader {args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    )
    return done.stdout + done.stderr


def test_bundle_holds_released_notebooks_wheel_config_and_readme_only(
    term: dict,
) -> None:
    names = set(zipfile.ZipFile(term["archive"]).namelist())
    files = {n.split("/", 1)[1] for n in names if not n.endswith("/")}
    chapters = {f"{ssl_course.assignment_id(p)}/{p.name}" for p in NOTEBOOKS}
    others = files - chapters
    assert {f for f in files if f.endswith(".ipynb")} == chapters
    assert {o for o in others if not o.startswith("wheels/")} == {
        "README.md",
        "requirements.txt",
        "nbgrader_config.py",
    }
    assert len([o for o in others if o.startswith("wheels/")]) == 1
    for path in NOTEBOOKS:
        released = json.loads(
            (term["bundle"] / ssl_course.assignment_id(path) / path.name).read_text()
        )
        key = json.loads(path.read_text(encoding="utf-8"))
        assert not ssl_course.leaks(key, released), path.name


def test_students_validate_timeout_is_the_graders(tmp_path: Path) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    (tmp_path / "nbgrader_config.py").write_text(
        ssl_course.student_config(), encoding="utf-8"
    )
    student = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    grader = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert (
        student.Execute.timeout == grader.Execute.timeout == ssl_course.EXECUTE_TIMEOUT
    )
    assert student.CourseDirectory.course_id == grader.CourseDirectory.course_id


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_released_chapter_runs_in_the_fresh_environment(term: dict, path: Path) -> None:
    executed = term.setdefault("executed", {})
    if not executed:  # every chapter once, two at a time, on the first call
        notebooks = [
            term["bundle"] / ssl_course.assignment_id(p) / p.name for p in NOTEBOOKS
        ]
        with ThreadPoolExecutor(2) as pool:
            executed.update(
                zip(
                    [p.name for p in notebooks],
                    pool.map(lambda p: run_student_notebook(term, p), notebooks),
                )
            )
    nb = executed[path.name]
    missing = [
        m
        for m in OPTIONAL
        if f"import {m}" in path.read_text(encoding="utf-8") and not installed(term, m)
    ]
    if missing:
        pytest.skip(
            f"{path.name} needs {missing}, an optional extra the student installs by "
            "hand (README.md)"
        )
    probe = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert (
        str(term["work"] / "student-venv") in probe and "site-packages/helpers" in probe
    ), probe
    start = ssl_course.first_exercise_cell(nb)
    broken = {
        i: cell_errors(c)
        for i, c in enumerate(nb.cells)
        if cell_errors(c) and (i < start or not ssl_course.nbgrader_meta(c))
    }
    assert not broken, (
        f"{path.name}: cells outside the exercises fail in the student's environment: "
        f"{broken}"
    )
    checks = [
        c
        for c in nb.cells
        if ssl_course.nbgrader_meta(c).get("grade") and c.cell_type == "code"
    ]
    passing = [
        ssl_course.nbgrader_meta(c)["grade_id"] for c in checks if not cell_errors(c)
    ]
    assert checks and not passing, (
        f"{path.name}: check cells pass on a blank answer: {passing}"
    )


def test_a_term_on_chapter_00(term: dict) -> None:
    course, path = term["course"], NOTEBOOKS[0]
    aid = ssl_course.assignment_id(path)
    nbgrader(term, "db", "assignment", "add", aid, f"--duedate={DUE}")
    nbgrader(term, "release_assignment", aid, "--force")
    assert stat.S_IMODE((course / "exchange").stat().st_mode) == ssl_course.OWNER_ONLY
    # the hub route: fetch, validate, submit through the exchange
    hub = term["work"] / "hub-home"
    hub.mkdir()
    (hub / "nbgrader_config.py").write_text(
        ssl_course.student_config(), encoding="utf-8"
    )
    nbgrader(term, "fetch_assignment", aid, student=True, cwd=hub)
    fetched = hub / aid / path.name
    fill_answers(fetched, path)
    report = nbgrader(term, "validate", str(fetched), student=True, cwd=hub)
    assert "Success! Your notebook passes all the tests." in report, report
    nbgrader(term, "submit", aid, student=True, cwd=hub)
    nbgrader(term, "collect", aid)
    hub_student = next(p.name for p in (course / "submitted").iterdir())
    # the LMS route: a blank notebook uploaded
    lms = course / "submitted" / "lms-student" / aid / path.name
    lms.parent.mkdir(parents=True)
    lms.write_bytes((term["bundle"] / aid / path.name).read_bytes())
    nbgrader(term, "autograde", aid)
    nbgrader(term, "generate_feedback", aid)
    assert len(list((course / "feedback").rglob("*.html"))) == 2
    nbgrader(term, "export")
    rows = {r["student_id"]: r for r in csv.DictReader((course / "grades.csv").open())}
    assert (
        float(rows[hub_student]["score"]) == float(rows[hub_student]["max_score"]) > 0
    ), rows
    assert float(rows["lms-student"]["score"]) == 0, rows
    assert rows[hub_student]["duedate"].startswith("2026-01-15 17:00:00"), rows[
        hub_student
    ]
    assert not (ROOT / "grades.csv").exists()


def fill_answers(student: Path, key: Path) -> None:
    """Put the key's answer cells into the student's notebook (same grade_id)."""
    answers = {
        ssl_course.nbgrader_meta(c).get("grade_id"): c.source
        for c in nbformat.read(key, as_version=4).cells
        if ssl_course.nbgrader_meta(c).get("solution")
    }
    nb = nbformat.read(student, as_version=4)
    for cell in nb.cells:
        if ssl_course.nbgrader_meta(cell).get("solution"):
            cell.source = answers[ssl_course.nbgrader_meta(cell)["grade_id"]]
    nbformat.write(nb, student)
