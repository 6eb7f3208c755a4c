"""Instructor tooling: release the book's chapters as nbgrader assignments, with answer
keys.

`python course/ssl_course.py release notebooks/02_*.ipynb ...` (or `make release`)
copies each chapter into the nbgrader course directory as assignment `chNN`
(`course/source/chNN/`), runs `nbgrader generate_assignment`, copies the chapter itself,
with solutions, hidden tests and outputs, to `course/key/chNN/` as the answer key, and
fails if the student version leaks a solution line, a hidden test line or an output of
the Exercises section.

`release` also writes the student bundle (`student_bundle`): the released notebooks, the
`helpers` wheel, a requirements file, the students' nbgrader_config.py and their README,
and nothing else from `notebooks/` (the chapters in the repository are the answer key).

`ClearExerciseOutputs` is the nbgrader preprocessor that `nbgrader_config.py` uses
instead of nbgrader's ClearOutput: a student keeps the chapter's outputs (figures,
trained numbers) up to the first exercise, and loses every output from there on plus the
widget state those outputs used (e.g. a progress bar showing the solution's training
loss).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "course"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MODEL_REFERENCE = re.compile(r"IPY_MODEL_([0-9a-f]+)")
CHAPTER = re.compile(r"^(\d\d|A\d)_[a-z0-9_]+\.ipynb$")

BUNDLE = COURSE / "student-bundle"
STUDENT_README = COURSE / "student_README.md"
# Seconds per cell for both autograding (nbgrader_config.py) and a student's `nbgrader
# validate` (the bundle's nbgrader_config.py): one number, so validate never times out
# where grading would not.
EXECUTE_TIMEOUT = 600
OWNER_ONLY = 0o700

try:  # nbgrader is the optional `course` extra; the leak checks below work without it
    from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # pragma: no cover - exercised only without the extra
    NbGraderPreprocessor = ExchangeReleaseAssignment = object


def assignment_id(notebook: Path) -> str:
    """'ch02' for 02_masked_language_modeling.ipynb, 'chA1' for A1_autograd.ipynb."""
    return "ch" + notebook.name.split("_", 1)[0]


def chapters() -> list[Path]:
    """The chapter notebooks (notebooks/NN_*.ipynb and A*_*.ipynb), sorted by name."""
    return sorted(
        p for p in (ROOT / "notebooks").glob("*.ipynb") if CHAPTER.match(p.name)
    )


def nbgrader_meta(cell: dict) -> dict:
    """The cell's nbgrader metadata (empty when it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def first_exercise_cell(nb: dict) -> int:
    """Index of the first nbgrader answer or check cell (len(cells) if none)."""
    return next(
        (
            i
            for i, c in enumerate(nb["cells"])
            if nbgrader_meta(c).get("solution") or nbgrader_meta(c).get("grade")
        ),
        len(nb["cells"]),
    )


def widget_models_in_outputs(cells: list[dict]) -> set[str]:
    """Model ids of the widget views that the cells' outputs display."""
    return {
        o["data"][WIDGET_VIEW]["model_id"]
        for c in cells
        for o in c.get("outputs", [])
        if WIDGET_VIEW in o.get("data", {})
    }


def prune_widget_state(nb: dict) -> None:
    """Keep only widget models the remaining outputs display and the models they use."""
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    if state is None:
        return
    keep, todo = set(), list(widget_models_in_outputs(nb["cells"]))
    while todo:
        model = todo.pop()
        if model in keep or model not in state:
            continue
        keep.add(model)
        todo += MODEL_REFERENCE.findall(json.dumps(state[model]))
    for model in set(state) - keep:
        del state[model]
    if not state:
        del nb["metadata"]["widgets"]


class ClearExerciseOutputs(NbGraderPreprocessor):
    """Clear the Exercises section's outputs and the widget state only they used."""

    def preprocess(self, nb, resources):
        """nbgrader entry point: clear from the first answer or check cell on."""
        for cell in nb.cells[first_exercise_cell(nb) :]:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        prune_widget_state(nb)
        return nb, resources


class OwnerOnlyReleaseAssignment(ExchangeReleaseAssignment):
    """nbgrader's release_assignment; the exchange is owner-only (not 0o777)."""

    def ensure_root(self):
        """Create the exchange root with mode 0o700, or narrow an existing one to it."""
        owner_only_dir(Path(self.root))


def owner_only_dir(path: Path) -> Path:
    """Create path (mode 0o700) or narrow an existing folder to 0o700; return it."""
    path.mkdir(mode=OWNER_ONLY, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != OWNER_ONLY:
        print(
            f"{path}: permissions narrowed to {OWNER_ONLY:o} (owner only)",
            file=sys.stderr,
        )
        path.chmod(OWNER_ONLY)
    return path


def marked_lines(text: str, begin: str, end: str) -> list[str]:
    """The stripped, non-empty lines strictly between begin and end markers."""
    found, inside = [], False
    for line in text.splitlines():
        marker = line.strip()
        if marker in (begin, end):
            inside = marker == begin
        elif inside and marker:
            found.append(marker)
    return found


def source(cell: dict) -> str:
    """A cell's source as one string."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def output_lines(cell: dict) -> list[str]:
    """The stripped, non-empty text lines of a cell's outputs."""
    texts = [source({"source": o.get("text", "")}) for o in cell.get("outputs", [])]
    texts += [
        source({"source": o.get("data", {}).get("text/plain", "")})
        for o in cell.get("outputs", [])
    ]
    return [
        line.strip() for text in texts for line in text.splitlines() if line.strip()
    ]


def leaks(key: dict, student: dict) -> list[str]:
    """Solution and hidden-test lines and Exercises outputs of key found in student."""
    secret = set()
    for cell in key["cells"]:
        secret.update(marked_lines(source(cell), BEGIN, END))
        secret.update(marked_lines(source(cell), BEGIN_HIDDEN, END_HIDDEN))
    public = set()  # lines the key also shows outside the markers cannot leak anything
    for cell in key["cells"]:
        text = re.sub(
            rf"{BEGIN}.*?{END}|{BEGIN_HIDDEN}.*?{END_HIDDEN}",
            "",
            source(cell),
            flags=re.S,
        )
        public.update(line.strip() for line in text.splitlines())
    secret -= public
    problems = [
        f"solution or hidden-test line in the student version: {line!r}"
        for cell in student["cells"]
        for line in source(cell).splitlines()
        if line.strip() in secret
    ]
    start = first_exercise_cell(key)
    exercise_outputs = {
        line for cell in key["cells"][start:] for line in output_lines(cell)
    }
    exercise_outputs -= {
        line for cell in key["cells"][:start] for line in output_lines(cell)
    }
    problems += [
        f"cell {i}: an output of the Exercises section is in the student version: "
        f"{line!r}"
        for i, cell in enumerate(student["cells"])
        for line in output_lines(cell)
        if line in exercise_outputs
    ]
    problems += [
        f"cell {i}: the student version keeps outputs after the first exercise"
        for i, cell in enumerate(student["cells"][first_exercise_cell(student) :])
        if cell.get("outputs")
    ]
    state = (
        student.get("metadata", {})
        .get("widgets", {})
        .get(WIDGET_STATE, {})
        .get("state", {})
    )
    private = widget_models_in_outputs(key["cells"][start:]) - widget_models_in_outputs(
        key["cells"][:start]
    )
    problems += [
        f"widget model {m} of an exercise's output is in the student version"
        for m in private & set(state)
    ]
    return problems


def nbgrader_command(
    *args: str, course: Path = COURSE
) -> tuple[list[str], dict[str, str]]:
    """Command line and environment of one nbgrader command on course (from repo)."""
    # nbgrader runs `alembic` from the environment's bin directory
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), env.get("PATH", "")]
    )
    # another course directory than course/ gets its own exchange and grades file too
    return [
        sys.executable,
        "-m",
        "nbgrader",
        *args,
        f"--CourseDirectory.root={course}",
        f"--Exchange.root={course / 'exchange'}",
        f"--CsvExportPlugin.to={course / 'grades.csv'}",
    ], env


def run_nbgrader(*args: str, course: Path = COURSE) -> None:
    """Run one nbgrader command with the book's nbgrader_config.py on course."""
    argv, env = nbgrader_command(*args, course=course)
    subprocess.run(argv, cwd=ROOT, env=env, check=True)


def release(notebooks: list[Path], course: Path = COURSE) -> list[str]:
    """Release each chapter and write its answer key; return every leak found."""
    problems = []
    # formgrader offers "release" once the exchange exists
    owner_only_dir(course / "exchange")
    for notebook in notebooks:
        aid = assignment_id(notebook)
        for kind in ("source", "key"):
            target = course / kind / aid / notebook.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(notebook, target)
        run_nbgrader("generate_assignment", aid, "--force", course=course)
        released = sorted((course / "release" / aid).rglob("*"))
        problems += [
            f"{aid}: {p.name} is released but is not a notebook"
            for p in released
            if p.is_file() and p.suffix != ".ipynb"
        ]
        key = json.loads(notebook.read_text(encoding="utf-8"))
        student = json.loads(
            (course / "release" / aid / notebook.name).read_text(encoding="utf-8")
        )
        problems += [f"{aid}: {p}" for p in leaks(key, student)]
    return problems


def build_wheel(out: Path) -> Path:
    """Build the book's wheel (`helpers` and its dependencies' bounds) into out."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    wheels = sorted(out.glob("ssl_from_scratch-*.whl"))
    if len(wheels) != 1:
        raise ValueError(
            f"expected one ssl_from_scratch wheel in {out}, found "
            f"{[w.name for w in wheels]}"
        )
    return wheels[0]


@functools.lru_cache(maxsize=None)
def nbgrader_requirement() -> str:
    """The `course` extra's nbgrader requirement, e.g. 'nbgrader>=0.9.6,<0.10'."""
    found = re.findall(
        r'"(nbgrader[^"]*)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    )
    if len(found) != 1:
        raise ValueError(
            "pyproject.toml must name nbgrader once (the `course` extra), found "
            f"{found}"
        )
    return found[0]


def student_config() -> str:
    """The students' nbgrader_config.py: course id and the autograder's cell timeout."""
    return (
        '"""nbgrader settings for the students of ssl-from-scratch (see '
        'README.md)."""\n'
        f"c = get_config()  # noqa: F821 - provided by nbgrader\n"
        f'c.CourseDirectory.course_id = "ssl-from-scratch"\n'
        "# The autograder's per-cell timeout, so `nbgrader validate` judges as "
        "grading will.\n"
        f"c.Execute.timeout = {EXECUTE_TIMEOUT}\n"
    )


def student_bundle(release_dir: Path, out: Path = BUNDLE) -> Path:
    """Write the student bundle of the released assignments into out (+ out.zip)."""
    notebooks = sorted(release_dir.glob("ch*/*.ipynb"))
    if not notebooks:
        raise ValueError(
            f"no released notebooks in {release_dir}; run `make release` first"
        )
    shutil.rmtree(out, ignore_errors=True)
    for notebook in notebooks:
        (out / notebook.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, out / notebook.parent.name / notebook.name)
    wheel = build_wheel(out / "wheels")
    (out / "requirements.txt").write_text(
        "# pip install -r requirements.txt  (run inside this folder; README.md)\n"
        f"wheels/{wheel.name}\n{nbgrader_requirement()}\n",
        encoding="utf-8",
    )
    (out / "nbgrader_config.py").write_text(student_config(), encoding="utf-8")
    shutil.copyfile(STUDENT_README, out / "README.md")
    return Path(shutil.make_archive(str(out), "zip", out.parent, out.name))


def main(argv: list[str] | None = None) -> int:
    """Command line: `release NOTEBOOK...` (assignments, keys, bundle) or `bundle`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["release", "bundle"])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument(
        "--course", type=Path, default=COURSE, help="nbgrader course directory"
    )
    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.command == "release":
        if not args.notebooks:
            parser.error("release needs the chapters to release")
        problems = release([p.resolve() for p in args.notebooks], course)
        for problem in problems:
            print("LEAK:", problem, file=sys.stderr)
        if problems:
            return 1
        print(
            f"released {len(args.notebooks)} chapters to {course / 'release'}; answer "
            f"keys in {course / 'key'}"
        )
    bundle = student_bundle(course / "release", course / BUNDLE.name)
    print(f"student bundle: {bundle.with_suffix('')}/ and {bundle}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
