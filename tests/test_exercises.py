"""Every exercise's check cell fails when the student leaves the answer empty.

The book's exercise convention (README, "How chapters are tested"): in each chapter's
"Exercises" section a code cell holds the solution between the nbgrader markers
`### BEGIN SOLUTION` and `### END SOLUTION`, and the code cell(s) after it are check
cells whose `assert`s pass on the solution and fail on an empty answer. The committed
outputs prove the first half; this file proves the second. For each chapter it builds in
memory the "student did nothing" version (every solution deleted, an indented one
replaced by `pass` so a function keeps a body; the hidden tests deleted too, as
nbgrader's release does, so the VISIBLE asserts must catch an empty answer), runs it
once in a fresh `python3` kernel with errors allowed, and checks that every cell before
the Exercises section still runs cleanly and that each exercise has a check cell that
errors.

It also requires the nbgrader metadata on every exercise (answer = solution cell, check
= graded, locked cell with points and hidden tests); tests/test_notebook_policy.py
checks the rest of the convention and tests/test_nbgrader.py runs real nbgrader. The
self-tests at the bottom check the solution stripper on tiny synthetic cells.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
EXERCISES_HEADING = re.compile(r"^#{1,6}\s*Exercises\b", re.IGNORECASE | re.MULTILINE)
MIN_EXERCISES = {"00": 2, "01": 2, "A1": 2}  # every other chapter needs 3
DEFAULT_MIN_EXERCISES = 3
CELL_TIMEOUT_S = 600

# Exercises whose check cells are known to pass on an empty answer: {(notebook name,
# number): why}.
KNOWN_DEFECTS: dict[tuple[str, int], str] = {}


def strip_solutions(source: str, begin: str = BEGIN, end: str = END) -> str:
    """The cell's source with each marked solution deleted; an indented one becomes
    `pass`.

    With begin/end set to the hidden-test markers it deletes hidden tests the same
    way."""
    kept: list[str] = []
    inside = False
    for line in source.splitlines(keepends=True):
        marker = line.strip()
        if marker == begin:
            if inside:
                raise ValueError(f"nested {begin!r}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            if indent:  # inside a def/class/loop body: keep the block valid, do nothing
                kept.append(f"{indent}pass\n")
        elif marker == end:
            if not inside:
                raise ValueError(f"{end!r} without {begin!r}")
            inside = False
        elif not inside:
            kept.append(line)
    if inside:
        raise ValueError(f"{begin!r} without {end!r}")
    return "".join(kept)


def has_solution(cell: dict) -> bool:
    """Whether a code cell holds a marked solution (quoted markers do not count)."""
    return cell["cell_type"] == "code" and any(
        line.strip() == BEGIN for line in cell["source"].splitlines()
    )


def exercises_start(nb: nbformat.NotebookNode) -> int:
    """Index of the markdown cell that opens the Exercises section."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and EXERCISES_HEADING.search(cell.source):
            return i
    raise AssertionError("no 'Exercises' heading")


def find_exercises(nb: nbformat.NotebookNode) -> list[tuple[int, list[int]]]:
    """(solution cell, its check cells) for each exercise: the code cells after a
    solution cell, up to the next markdown cell or solution cell."""
    found: list[tuple[int, list[int]]] = []
    collecting = False
    for i in range(exercises_start(nb), len(nb.cells)):
        cell = nb.cells[i]
        if has_solution(cell):
            found.append((i, []))
            collecting = True
        elif cell.cell_type == "code" and collecting:
            found[-1][1].append(i)
        else:
            collecting = False
    return found


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of nb as nbgrader releases it: solutions and hidden tests removed, outputs
    cleared.

    So each check cell must fail on an empty answer with its visible asserts alone."""
    student = copy.deepcopy(nb)
    for cell in student.cells:
        if cell.cell_type == "code":
            if has_solution(cell):
                cell.source = strip_solutions(cell.source)
            cell.source = strip_solutions(cell.source, BEGIN_HIDDEN, END_HIDDEN)
            cell.outputs, cell.execution_count = [], None
    return student


@functools.lru_cache(maxsize=None)
def run_student_version(path: Path) -> nbformat.NotebookNode:
    """The student version of the chapter at path, executed once in a fresh kernel."""
    from nbclient import NotebookClient

    student = student_version(nbformat.read(path, as_version=4))
    NotebookClient(
        student,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    ).execute()
    return student


def errors(cell: dict) -> list[str]:
    """`ename: evalue` of each error the cell produced."""
    return [
        f"{o['ename']}: {o['evalue']}"
        for o in cell.get("outputs", [])
        if o["output_type"] == "error"
    ]


def exercise_cases() -> list:
    """One pytest case per (chapter, exercise); known defects are strict xfail."""
    cases = []
    for path in NOTEBOOKS:
        for number, _ in enumerate(
            find_exercises(nbformat.read(path, as_version=4)), start=1
        ):
            reason = KNOWN_DEFECTS.get((path.name, number))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(
                pytest.param(path, number, marks=marks, id=f"{path.stem}-ex{number}")
            )
    return cases


# --- the chapters
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_has_enough_exercises_with_check_cells(path: Path) -> None:
    found = find_exercises(nbformat.read(path, as_version=4))
    minimum = MIN_EXERCISES.get(path.name[:2], DEFAULT_MIN_EXERCISES)
    assert len(found) >= minimum, (
        f"{path.name}: {len(found)} exercises, policy needs {minimum}"
    )
    for number, (solution, checks) in enumerate(found, start=1):
        assert checks, (
            f"{path.name} exercise {number} (cell {solution}) has no check cell"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_cells_carry_nbgrader_metadata(path: Path) -> None:
    """Answers are solution cells; checks graded, locked, with points, hidden tests."""
    nb = nbformat.read(path, as_version=4)
    for number, (solution, checks) in enumerate(find_exercises(nb), start=1):
        answer = nb.cells[solution].metadata.get("nbgrader", {})
        assert answer.get("solution") is True and answer.get("grade") is False, (
            f"{path.name} exercise {number}: the answer cell lacks nbgrader solution "
            "metadata"
        )
        graded = [nb.cells[i].metadata.get("nbgrader", {}) for i in checks]
        assert any(
            g.get("grade") and g.get("locked") and g.get("points", 0) > 0
            for g in graded
        ), f"{path.name} exercise {number}: no locked nbgrader check cell with points"
        assert any(BEGIN_HIDDEN in nb.cells[i].source for i in checks), (
            f"{path.name} exercise {number}: no hidden tests"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_version_runs_cleanly_up_to_the_exercises(path: Path) -> None:
    student = run_student_version(path)
    start = exercises_start(student)
    assert any(
        cell.outputs for cell in student.cells[:start] if cell.cell_type == "code"
    ), "the chapter produced no output at all: did the kernel run it?"
    failed = {
        i: errors(cell)
        for i, cell in enumerate(student.cells[:start])
        if cell.cell_type == "code"
        and errors(cell)
        and "raises-exception" not in cell.metadata.get("tags", [])
    }
    assert not failed, f"{path.name}: cells before the Exercises errored: {failed}"


@pytest.mark.parametrize(("path", "number"), exercise_cases())
def test_check_cell_fails_on_empty_answer(path: Path, number: int) -> None:
    solution, checks = find_exercises(nbformat.read(path, as_version=4))[number - 1]
    student = run_student_version(path)  # same cells, same order, markers gone
    raised = {i: errors(student.cells[i]) for i in checks if errors(student.cells[i])}
    assert raised, (
        f"{path.name} exercise {number}: with the solution in cell {solution} "
        f"removed, its check cells {checks} all pass"
    )


# --- self-tests of the stripper
# ------------------------------------------------------------------

FUNCTION_CELL = f'''def f(x: int) -> int:
    """Twice x."""
    {BEGIN}
    y = 2 * x
    return y
    {END}


print(f(3))
'''

TOP_LEVEL_CELL = f"""from math import pi

{BEGIN}
area = pi * 2 ** 2
{END}
print(area)
"""


def test_strip_function_body_keeps_a_do_nothing_body() -> None:
    stripped = strip_solutions(FUNCTION_CELL)
    assert BEGIN not in stripped and END not in stripped and "2 * x" not in stripped
    assert '    """Twice x."""\n    pass\n' in stripped and "print(f(3))" in stripped
    namespace: dict = {}
    exec(compile(stripped.replace("print(f(3))", ""), "<cell>", "exec"), namespace)
    assert namespace["f"](3) is None


def test_strip_function_without_docstring_is_still_valid_python() -> None:
    stripped = strip_solutions(f"def g():\n    {BEGIN}\n    return 1\n    {END}\n")
    assert stripped == "def g():\n    pass\n"
    ast.parse(stripped)


def test_strip_top_level_leaves_nothing_in_place_of_the_solution() -> None:
    stripped = strip_solutions(TOP_LEVEL_CELL)
    assert stripped == "from math import pi\n\nprint(area)\n"
    with pytest.raises(NameError):
        exec(compile(stripped, "<cell>", "exec"), {})


def test_strip_whole_definition_at_top_level_removes_it() -> None:
    stripped = strip_solutions(f"{BEGIN}\ndef h():\n    return 1\n{END}\n")
    assert stripped == ""


def test_strip_removes_every_marked_solution_in_a_cell() -> None:
    cell = f"{BEGIN}\na = 1\n{END}\nb = 2\n{BEGIN}\nc = 3\n{END}\n"
    assert strip_solutions(cell) == "b = 2\n"


def test_strip_hidden_tests_keeps_the_visible_asserts() -> None:
    cell = f'assert x > 0, "x"\n{BEGIN_HIDDEN}\nassert x == 3, "y"\n{END_HIDDEN}\n'
    assert strip_solutions(cell, BEGIN_HIDDEN, END_HIDDEN) == 'assert x > 0, "x"\n'
    assert strip_solutions(cell) == cell


def test_strip_without_markers_is_unchanged() -> None:
    for cell in ("x = 1\nprint(x)\n", "", "# mentions BEGIN SOLUTION in prose\n"):
        assert strip_solutions(cell) == cell


@pytest.mark.parametrize(
    "cell", [f"{BEGIN}\nx = 1\n", f"x = 1\n{END}\n", f"{BEGIN}\n{BEGIN}\n{END}\n"]
)
def test_strip_rejects_unbalanced_markers(cell: str) -> None:
    with pytest.raises(ValueError):
        strip_solutions(cell)


def test_find_exercises_and_student_version_on_a_synthetic_notebook() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("x = 1"),
            nbformat.v4.new_markdown_cell(
                f"## Exercises\nQuote `{BEGIN}` in prose:\n{BEGIN}"
            ),
            nbformat.v4.new_markdown_cell("**Exercise 1.**"),
            nbformat.v4.new_code_cell(
                f"{BEGIN}\nanswer = 42\n{END}",
                outputs=[nbformat.v4.new_output("stream", text="hi")],
            ),
            nbformat.v4.new_code_cell("assert answer == 42"),
            nbformat.v4.new_code_cell("print('checked')"),
            nbformat.v4.new_markdown_cell("**Exercise 2.**"),
            nbformat.v4.new_code_cell(
                f"def f():\n    {BEGIN}\n    return 1\n    {END}"
            ),
            nbformat.v4.new_code_cell("assert f() == 1"),
        ]
    )
    assert exercises_start(nb) == 1
    assert find_exercises(nb) == [(3, [4, 5]), (7, [8])]
    student = student_version(nb)
    assert student.cells[3].source == "" and student.cells[3].outputs == []
    assert student.cells[7].source == "def f():\n    pass\n"
    assert student.cells[1].source == nb.cells[1].source  # markdown untouched
    assert nb.cells[3].source.startswith(BEGIN)  # the original is not modified
