"""Every chapter notebook follows the book's rules (see README, "How chapters are
tested").

The checker works on plain notebook dicts, so the self-tests at the bottom feed it tiny
synthetic notebooks: a good one passes and each kind of violation is reported.
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TWINS = sorted(NOTEBOOK_DIR.glob("*.py"))

CHAPTER_NAME = re.compile(r"^(?P<number>\d\d|A\d)_[a-z0-9]+(_[a-z0-9]+)*\.ipynb$")
MACHINE_PATHS = (
    "/work/",
    "/root/",
    "/home/",
    "/Users/",
    "/tmp/",
    "site-packages",
    ".venv",
)
DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
EXERCISES_HEADING = re.compile(r"^#{1,6}\s*Exercises\b", re.IGNORECASE | re.MULTILINE)
MEASURED_HEADING = re.compile(
    r"^#{1,6}\s*What we measured\b", re.IGNORECASE | re.MULTILINE
)
KEY_VALUE_LINE = re.compile(r"^[^:\s][^:]*: \S")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN, END, BEGIN_HIDDEN, END_HIDDEN)
# "**Exercise 2 (no predictor)** · 3 points · medium · ~15 min" (README, "Instructors")
PROMPT = re.compile(
    r"^\*\*Exercise (?P<n>\d+)\b[^*]*\*\* · (?P<points>\d+) points? · "
    r"(easy|medium|hard) · ~\d+ min$",
    re.MULTILINE,
)
TOTAL = re.compile(r"\*\*(?P<points>\d+) points\*\*")
MAX_WIDGET_STATE_BYTES = 1_000_000
MAX_CELL_LINES = 30  # DEVELOPERS.md: cells <= 30 lines


def source(cell: dict) -> str:
    """A cell's source as one string (ipynb JSON may store a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def tags(cell: dict) -> set[str]:
    """The cell's tags."""
    return set(cell.get("metadata", {}).get("tags", []))


def output_text(output: dict) -> str:
    """All text an output carries (images and data URIs left out)."""
    parts: list[str] = []
    if "text" in output:
        parts.append(source({"source": output["text"]}))
    for mime, value in output.get("data", {}).items():
        if mime.startswith("image/") or mime.endswith("widget-view+json"):
            continue
        parts.append(
            json.dumps(value) if isinstance(value, dict) else source({"source": value})
        )
    parts += [
        output.get("ename", ""),
        output.get("evalue", ""),
        *output.get("traceback", []),
    ]
    return DATA_URI.sub("", "\n".join(parts))


def stdout_of(cell: dict) -> str:
    """What a code cell printed to stdout."""
    return "".join(
        source({"source": o["text"]})
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def chapter_number(filename: str) -> str | None:
    """'03' for '03_mae.ipynb', 'A1' for 'A1_autograd.ipynb', None for a bad name."""
    match = CHAPTER_NAME.match(filename)
    return match.group("number") if match else None


def minimum_exercises(number: str) -> int:
    """Two exercises for 00, 01 and appendices; three for chapters 02 and up."""
    return 2 if number in ("00", "01") or number.startswith("A") else 3


def execution_violations(cells: list[dict]) -> list[str]:
    """Top-to-bottom run in a fresh kernel, no unexpected errors, no timing metadata."""
    problems = []
    counts = [
        c.get("execution_count")
        for c in cells
        if c["cell_type"] == "code"
        and source(c).strip()
        and "skip-execution" not in tags(c)
    ]
    if counts != list(range(1, len(counts) + 1)):
        problems.append(
            f"execution counts are {counts}, expected 1..{len(counts)}: "
            "re-run top to bottom in a fresh kernel (make book)"
        )
    for i, cell in enumerate(cells):
        n_lines = len(source(cell).splitlines())
        if cell["cell_type"] == "code" and n_lines > MAX_CELL_LINES:
            problems.append(
                f"cell {i}: {n_lines} lines of code, at most {MAX_CELL_LINES}: "
                "split it, with a sentence of prose before the new cell"
            )
        if cell["cell_type"] == "code" and not source(cell).strip():
            problems.append(
                f"cell {i}: empty code cell (JupyterLab's Run All never runs it, so "
                "its prompt stays "
                "'[ ]' and a reader cannot tell the run finished): delete it"
            )
        if "execution" in cell.get("metadata", {}) or "ExecuteTime" in cell.get(
            "metadata", {}
        ):
            problems.append(
                f"cell {i}: timing metadata (execute with "
                "--NotebookClient.record_timing=False)"
            )
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and "raises-exception" not in tags(
                cell
            ):
                problems.append(
                    f"cell {i}: error output {output.get('ename')} without tag "
                    "raises-exception"
                )
            text = output_text(output)
            for path in MACHINE_PATHS:
                if path in text:
                    problems.append(
                        f"cell {i}: output shows a machine-specific path ({path!r})"
                    )
    return problems


def exercise_violations(cells: list[dict], number: str) -> list[str]:
    """An Exercises section; each solution after a prompt, before a check cell."""
    problems = []
    starts = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and EXERCISES_HEADING.search(source(c))
    ]
    if not starts:
        return ["no 'Exercises' heading"]
    solutions = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and (BEGIN in source(c) or END in source(c))
    ]
    for i in solutions:
        text = source(cells[i])
        if i < starts[0]:
            problems.append(f"cell {i}: solution markers outside the Exercises section")
        if not (BEGIN in text and END in text and text.index(BEGIN) < text.index(END)):
            problems.append(f"cell {i}: needs '{BEGIN}' then '{END}'")
        if i == 0 or cells[i - 1]["cell_type"] != "markdown":
            problems.append(
                f"cell {i}: a solution cell must follow its markdown prompt"
            )
        after = cells[i + 1] if i + 1 < len(cells) else None
        if (
            after is None
            or after["cell_type"] != "code"
            or "assert" not in source(after)
            or BEGIN in source(after)
        ):
            problems.append(
                f"cell {i}: a solution cell must be followed by a check cell with "
                "assert"
            )
    if len(solutions) < minimum_exercises(number):
        problems.append(
            f"{len(solutions)} exercises, chapter {number} needs at least "
            f"{minimum_exercises(number)}"
        )
    return problems


def nbgrader_meta(cell: dict) -> dict:
    """The cell's nbgrader metadata (empty when it has none)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_written_answer(cell: dict) -> bool:
    """Whether cell is a written answer graded by hand (nbgrader solution + grade)."""
    meta = nbgrader_meta(cell)
    return (
        cell["cell_type"] == "markdown"
        and bool(meta.get("solution"))
        and bool(meta.get("grade"))
    )


def written_answer_violations(cell: dict, grade_id: str) -> list[str]:
    """A written answer: unlocked, its id, points, model answer and rubric inside."""
    meta, text = nbgrader_meta(cell), source(cell)
    problems = []
    if (
        meta.get("locked") is not False
        or meta.get("grade_id") != grade_id
        or meta.get("schema_version") != 3
    ):
        problems.append(
            f"the written answer needs grade_id '{grade_id}', locked False, "
            "schema_version 3"
        )
    if not isinstance(meta.get("points"), int) or meta["points"] <= 0:
        problems.append("the written answer needs positive integer points")
    inside = (
        text.split(BEGIN, 1)[-1].split(END, 1)[0]
        if BEGIN in text and END in text
        else ""
    )
    if "**Model answer.**" not in inside or "**Rubric" not in inside:
        problems.append(
            "the written answer needs '**Model answer.**' and '**Rubric' between the "
            "solution markers"
        )
    return problems


def assert_without_message(code: str) -> list[int]:
    """Line numbers of the `assert` statements of code that give no message."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return [0]
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and node.msg is None
    ]


def nbgrader_violations(cells: list[dict], number: str) -> list[str]:
    """Each exercise is an nbgrader prompt (locked), answer and check (hidden tests)."""
    problems = []
    for i, cell in enumerate(cells):
        text = source(cell)
        if any(m in text for m in MARKERS) and not (
            (cell["cell_type"] == "code" and nbgrader_meta(cell))
            or is_written_answer(cell)
        ):
            problems.append(
                f"cell {i}: marker strings outside an nbgrader code cell (reword prose "
                "that quotes them)"
            )
    solutions = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and BEGIN in source(c)
    ]
    total, ids = 0, []
    for k, i in enumerate(solutions, start=1):
        prompt, answer = (cells[i - 1] if i > 0 else {}), cells[i]
        check = cells[i + 1] if i + 1 < len(cells) else {}
        want = {
            "prompt": (prompt, dict(grade=False, solution=False, locked=True)),
            "answer": (answer, dict(grade=False, solution=True, locked=False)),
            "check": (check, dict(grade=True, solution=False, locked=True)),
        }
        for role, (cell, flags) in want.items():
            meta = nbgrader_meta(cell)
            ids.append(meta.get("grade_id"))
            if (
                any(meta.get(key) is not value for key, value in flags.items())
                or meta.get("schema_version") != 3
            ):
                problems.append(
                    f"exercise {k}: the {role} cell needs nbgrader metadata {flags}, "
                    "schema_version 3"
                )
            if meta.get("grade_id") != f"ch{number}-ex{k}-{role}":
                problems.append(
                    f"exercise {k}: the {role} cell's grade_id should be "
                    f"'ch{number}-ex{k}-{role}'"
                )
        match = PROMPT.search(source(prompt))
        points = nbgrader_meta(check).get("points")
        written = (
            cells[i + 2]
            if i + 2 < len(cells) and is_written_answer(cells[i + 2])
            else None
        )
        if written is not None:
            problems += [
                f"exercise {k}: {p}"
                for p in written_answer_violations(written, f"ch{number}-ex{k}-why")
            ]
            ids.append(nbgrader_meta(written).get("grade_id"))
            points = (
                points + nbgrader_meta(written).get("points", 0)
                if isinstance(points, int)
                else points
            )
        if match is None or int(match["n"]) != k:
            problems.append(
                f"exercise {k}: the prompt must start '**Exercise {k} (title)** · P "
                "points · "
                "easy|medium|hard · ~M min'"
            )
        elif points != int(match["points"]):
            problems.append(
                f"exercise {k}: the prompt says {match['points']} points, the check "
                f"cell gives {points}"
            )
        total += points if isinstance(points, int) and points > 0 else 0
        if not isinstance(points, int) or points <= 0:
            problems.append(
                f"exercise {k}: the check cell needs positive integer points"
            )
        code = source(check)
        if not (
            BEGIN_HIDDEN in code
            and END_HIDDEN in code
            and code.index(BEGIN_HIDDEN) < code.index(END_HIDDEN)
        ):
            problems.append(
                f"exercise {k}: the check cell needs hidden tests ('{BEGIN_HIDDEN}' "
                f"... '{END_HIDDEN}')"
            )
        if assert_without_message(code):
            problems.append(
                f"exercise {k}: every assert of the check cell needs a message saying "
                "what is wrong "
                f"(lines {assert_without_message(code)})"
            )
    if len(set(ids)) != len(ids):
        problems.append("grade_ids are not unique")
    heading = next(
        (
            source(c)
            for c in cells
            if c["cell_type"] == "markdown" and EXERCISES_HEADING.search(source(c))
        ),
        "",
    )
    stated = TOTAL.search(heading)
    if solutions and (stated is None or int(stated["points"]) != total):
        problems.append(
            f"the Exercises heading cell must state the chapter total as '**{total} "
            "points**'"
        )
    return problems


def measured_violations(cells: list[dict]) -> list[str]:
    """A 'What we measured' cell printing one `key: value` a line (chapters 02 on)."""
    marked = [
        i
        for i, c in enumerate(cells)
        if (c["cell_type"] == "markdown" and MEASURED_HEADING.search(source(c)))
        or (c["cell_type"] == "code" and "what we measured" in source(c).lower())
    ]
    if not marked:
        return ["no 'What we measured' heading"]
    code = [c for c in cells[marked[0] :] if c["cell_type"] == "code"]
    lines = (
        [line for line in stdout_of(code[0]).splitlines() if line.strip()]
        if code
        else []
    )
    if not lines:
        return ["the 'What we measured' cell prints nothing"]
    bad = [line for line in lines if not KEY_VALUE_LINE.match(line)]
    return [f"'What we measured' line is not 'key: value': {line!r}" for line in bad]


# ipykernel's kernel.json; JupyterLab writes it on open
LAB_DISPLAY_NAME = "Python 3 (ipykernel)"


def policy_violations(nb: dict, filename: str) -> list[str]:
    """Every rule a committed chapter notebook breaks, one readable line each."""
    number = chapter_number(filename)
    if number is None:
        return [
            f"{filename}: name must be NN_slug.ipynb (NN = 00..99) or A1_slug.ipynb"
        ]
    spec = nb.get("metadata", {}).get("kernelspec", {})
    problems = (
        []
        if spec.get("name") == "python3"
        else [f"kernelspec name is {spec.get('name')!r}, expected 'python3'"]
    )
    if spec.get("name") == "python3" and spec.get("display_name") != LAB_DISPLAY_NAME:
        problems.append(
            f"kernelspec display_name is {spec.get('display_name')!r}, expected "
            f"{LAB_DISPLAY_NAME!r}"
            " (what JupyterLab writes; run `make kernelspec`)"
        )
    cells = nb.get("cells", [])
    problems += execution_violations(cells)
    problems += exercise_violations(cells, number)
    problems += nbgrader_violations(cells, number)
    if not number.startswith("A") and int(number) >= 2:
        problems += measured_violations(cells)
    return problems


def storage_violations(nb: dict) -> list[str]:
    """Outputs are committed, widget state is not bloated."""
    problems = []
    if not any(c.get("outputs") for c in nb.get("cells", [])):
        problems.append(
            "no outputs committed: execute the chapter (make book) before committing"
        )
    size = len(json.dumps(nb.get("metadata", {}).get("widgets", {})))
    if size > MAX_WIDGET_STATE_BYTES:
        problems.append(
            f"widget state is {size} bytes (limit {MAX_WIDGET_STATE_BYTES})"
        )
    return problems


def pair_diff(py_path: Path, nb_path: Path) -> str:
    """Unified diff between the inputs of a .py twin and its .ipynb (empty in sync)."""
    import jupytext

    if not py_path.exists():
        return f"missing {py_path.name}: run `make sync`"
    as_py = jupytext.writes(jupytext.read(py_path), "py:percent")
    as_nb = jupytext.writes(jupytext.read(nb_path), "py:percent")
    return "".join(
        difflib.unified_diff(
            as_py.splitlines(True), as_nb.splitlines(True), py_path.name, nb_path.name
        )
    )


def load(path: Path) -> dict:
    """A notebook file as a dict."""
    return json.loads(path.read_text(encoding="utf-8"))


# --- the book's notebooks
# ---------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_policy(path: Path) -> None:
    problems = policy_violations(load(path), path.name)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_committed_and_widget_state_small(path: Path) -> None:
    problems = storage_violations(load(path))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_py_twin_in_sync(path: Path) -> None:
    diff = pair_diff(path.with_suffix(".py"), path)
    assert not diff, (
        f"{path.name} and its .py twin differ (edit the .py, then `make sync`):\n{diff}"
    )


@pytest.mark.parametrize("path", TWINS, ids=lambda p: p.name)
def test_every_py_twin_has_a_notebook(path: Path) -> None:
    assert path.with_suffix(".ipynb").exists(), (
        f"{path.name} has no .ipynb: run `make sync` and `make book`"
    )


# --- self-test: the checker catches each violation
# ----------------------------------------


def md(text: str) -> dict:
    """A markdown cell."""
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(
    text: str, count: int | None, *outputs: dict, cell_tags: tuple[str, ...] = ()
) -> dict:
    """A code cell."""
    metadata = {"tags": list(cell_tags)} if cell_tags else {}
    return {
        "cell_type": "code",
        "metadata": metadata,
        "source": text,
        "execution_count": count,
        "outputs": list(outputs),
    }


def stdout(text: str) -> dict:
    """A stdout stream output."""
    return {"output_type": "stream", "name": "stdout", "text": text}


def good_notebook(number: str = "02", n_exercises: int = 3) -> dict:
    """A tiny chapter (02 unless told) that follows every rule."""
    cells = [
        md("# A chapter\nProse."),
        code("x = 1\nprint(x)", 1, stdout("1\n")),
        md("## What we measured"),
        code("print('probe_accuracy: 0.91')", 2, stdout("probe_accuracy: 0.91\n")),
        md(f"## Exercises\nWorth **{2 * n_exercises} points** in all."),
    ]
    count = 3
    for k in range(n_exercises):
        meta = {"grade_id": f"ch{number}-ex{k + 1}-", "schema_version": 3}
        cells += [
            md(f"**Exercise {k + 1} (a title)** · 2 points · easy · ~5 min\n\nDo it."),
            code(f"{BEGIN}\nanswer = {k}\n{END}", count),
            code(
                f'assert answer is not None, "no answer"\n{BEGIN_HIDDEN}\n'
                f'assert answer == {k}, "wrong answer"\n{END_HIDDEN}',
                count + 1,
            ),
        ]
        for cell, role, flags in zip(
            cells[-3:],
            ("prompt", "answer", "check"),
            ((False, False, True), (False, True, False), (True, False, True)),
        ):
            cell["metadata"]["nbgrader"] = {
                **meta,
                "grade_id": meta["grade_id"] + role,
                **dict(zip(("grade", "solution", "locked"), flags)),
            }
        cells[-1]["metadata"]["nbgrader"]["points"] = 2
        count += 2
    return {
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": LAB_DISPLAY_NAME}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
        "cells": cells,
    }


def add_written_answer(nb: dict, rubric: bool = True) -> None:
    """Exercise 1 of good_notebook gets a 1-point written answer (totals follow)."""
    text = (
        f"**Your answer:** why?\n\n{BEGIN}\n**Model answer.** Because.\n\n"
        + ("**Rubric (1 point).** 1 for the reason.\n" if rubric else "")
        + END
    )
    cell = md(text)
    cell["metadata"]["nbgrader"] = {
        "grade": True,
        "solution": True,
        "locked": False,
        "points": 1,
        "grade_id": "ch02-ex1-why",
        "schema_version": 3,
    }
    nb["cells"].insert(8, cell)
    nb["cells"][5]["source"] = nb["cells"][5]["source"].replace(
        "· 2 points", "· 3 points"
    )
    nb["cells"][4]["source"] = "## Exercises\nWorth **7 points** in all."


def test_checker_accepts_a_written_answer_and_requires_its_rubric() -> None:
    nb = good_notebook()
    add_written_answer(nb)
    assert policy_violations(nb, "02_good.ipynb") == []
    nb = good_notebook()
    add_written_answer(nb, rubric=False)
    assert any("'**Rubric'" in p for p in policy_violations(nb, "02_good.ipynb"))


def test_checker_accepts_a_good_notebook() -> None:
    assert policy_violations(good_notebook(), "02_good.ipynb") == []
    assert storage_violations(good_notebook()) == []


def break_order(nb: dict) -> None:
    nb["cells"][1]["execution_count"] = 7


def drop_count(nb: dict) -> None:
    nb["cells"][3]["execution_count"] = None


def add_error(nb: dict) -> None:
    nb["cells"][1]["outputs"].append(
        {"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": []}
    )


def add_path(nb: dict) -> None:
    nb["cells"][1]["outputs"].append(stdout("saved to /home/me/data.npz\n"))


def add_venv_warning(nb: dict) -> None:
    nb["cells"][1]["outputs"].append(
        {
            "output_type": "stream",
            "name": "stderr",
            "text": ".venv/lib/python3.11/site-packages/x.py:3: Warning\n",
        }
    )


def add_timing(nb: dict) -> None:
    nb["cells"][1]["metadata"]["execution"] = {
        "iopub.execute_input": "2024-01-01T00:00:00Z"
    }


def wrong_kernel(nb: dict) -> None:
    nb["metadata"]["kernelspec"]["name"] = "python"


def old_display_name(nb: dict) -> None:
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3"


def drop_measured(nb: dict) -> None:
    nb["cells"][2] = md("## Summary")


def bad_measured_line(nb: dict) -> None:
    nb["cells"][3]["outputs"] = [stdout("probe_accuracy: 0.91\na table row 1 2 3\n")]


def drop_exercises_heading(nb: dict) -> None:
    nb["cells"][4] = md("## More")


def drop_end_marker(nb: dict) -> None:
    nb["cells"][6]["source"] = f"{BEGIN}\nanswer = 0\n"


def drop_check_assert(nb: dict) -> None:
    nb["cells"][7]["source"] = "print(answer)"


def drop_prompt(nb: dict) -> None:
    del nb["cells"][8]  # the second exercise now follows the first check cell


def too_few_exercises(nb: dict) -> None:
    del nb["cells"][-3:]


def drop_nbgrader_metadata(nb: dict) -> None:
    del nb["cells"][6]["metadata"]["nbgrader"]


def unlock_check(nb: dict) -> None:
    nb["cells"][7]["metadata"]["nbgrader"]["locked"] = False


def points_differ(nb: dict) -> None:
    nb["cells"][7]["metadata"]["nbgrader"]["points"] = 3


def prompt_without_points(nb: dict) -> None:
    nb["cells"][5]["source"] = "**Exercise 1.** Do it."


def drop_hidden_tests(nb: dict) -> None:
    nb["cells"][7]["source"] = 'assert answer == 0, "wrong answer"'


def bare_assert(nb: dict) -> None:
    nb["cells"][7]["source"] = (
        f"assert answer == 0\n{BEGIN_HIDDEN}\nassert answer, 'x'\n{END_HIDDEN}"
    )


def marker_in_prose(nb: dict) -> None:
    nb["cells"][4]["source"] += f"\nAnswers go between `{BEGIN}` and `{END}`."


def add_empty_code_cell(nb: dict) -> None:
    nb["cells"].insert(0, code("", None))


def long_cell(nb: dict) -> None:
    nb["cells"][1]["source"] = "\n".join(f"x{k} = {k}" for k in range(31))


def wrong_total(nb: dict) -> None:
    nb["cells"][4]["source"] = "## Exercises\nWorth **7 points**."


@pytest.mark.parametrize(
    ("breaker", "expected"),
    [
        (break_order, "execution counts"),
        (drop_count, "execution counts"),
        (add_error, "error output ValueError"),
        (add_path, "machine-specific path"),
        (add_venv_warning, "machine-specific path"),
        (add_timing, "timing metadata"),
        (add_empty_code_cell, "empty code cell"),
        (wrong_kernel, "kernelspec"),
        (old_display_name, "display_name"),
        (drop_measured, "What we measured"),
        (bad_measured_line, "not 'key: value'"),
        (drop_exercises_heading, "no 'Exercises' heading"),
        (drop_end_marker, "needs '### BEGIN SOLUTION' then '### END SOLUTION'"),
        (drop_check_assert, "check cell with assert"),
        (drop_prompt, "markdown prompt"),
        (too_few_exercises, "needs at least 3"),
        (drop_nbgrader_metadata, "the answer cell needs nbgrader metadata"),
        (unlock_check, "the check cell needs nbgrader metadata"),
        (points_differ, "the prompt says 2 points, the check cell gives 3"),
        (prompt_without_points, "the prompt must start"),
        (drop_hidden_tests, "needs hidden tests"),
        (bare_assert, "needs a message"),
        (marker_in_prose, "marker strings outside"),
        (wrong_total, "must state the chapter total as '**6 points**'"),
        (long_cell, "31 lines of code, at most 30"),
    ],
)
def test_checker_reports_each_violation(breaker, expected: str) -> None:
    nb = copy.deepcopy(good_notebook())
    breaker(nb)
    problems = policy_violations(nb, "02_good.ipynb")
    assert any(expected in p for p in problems), problems


def test_checker_allows_tagged_errors_and_early_chapters() -> None:
    nb = good_notebook()
    nb["cells"][1] = code(
        "raise ValueError",
        1,
        {"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []},
        cell_tags=("raises-exception",),
    )
    assert policy_violations(nb, "02_good.ipynb") == []
    # two exercises and no measured cell are enough for 00, 01 and appendices
    for number in ("01", "A1"):
        nb = good_notebook(number, n_exercises=2)
        nb["cells"][2] = md("## Summary")
        assert policy_violations(nb, f"{number}_intro.ipynb") == []


def test_checker_rejects_bad_names() -> None:
    for name in ("Untitled.ipynb", "2_short.ipynb", "02-dash.ipynb", "B1_x.ipynb"):
        assert "name must be" in policy_violations(good_notebook(), name)[0]


def test_storage_checker_catches_missing_outputs_and_widget_bloat() -> None:
    nb = good_notebook()
    for cell in nb["cells"]:
        cell.pop("outputs", None)
    assert "no outputs" in storage_violations(nb)[0]
    nb = good_notebook()
    nb["metadata"]["widgets"] = {"state": "x" * (MAX_WIDGET_STATE_BYTES + 1)}
    assert "widget state" in storage_violations(nb)[0]


def test_pair_check_catches_drift(tmp_path: Path) -> None:
    import jupytext

    nb = jupytext.reads("# %% [markdown]\n# Title\n\n# %%\nx = 1\n", "py:percent")
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    py_path, nb_path = tmp_path / "00_demo.py", tmp_path / "00_demo.ipynb"
    jupytext.write(nb, nb_path)
    assert pair_diff(py_path, nb_path).startswith("missing")
    jupytext.write(nb, py_path, fmt="py:percent")
    assert pair_diff(py_path, nb_path) == ""
    py_path.write_text(py_path.read_text().replace("x = 1", "x = 2"))
    assert "x = 2" in pair_diff(py_path, nb_path)


def test_policy_display_name_is_what_jupyterlab_writes() -> None:
    """The python3 kernel's display name is what JupyterLab stores (issue 15)."""
    from jupyter_client.kernelspec import KernelSpecManager

    assert (
        KernelSpecManager().get_kernel_spec("python3").display_name == LAB_DISPLAY_NAME
    )
