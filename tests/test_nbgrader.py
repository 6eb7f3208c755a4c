"""The chapters work as nbgrader 0.9 assignments, exactly as an instructor runs them (README, "Instructors").

For each chapter, in a temporary course directory and with the book's nbgrader_config.py:
`course/ssl_course.py` releases it (`nbgrader generate_assignment`) and finds no solution line,
hidden-test line or exercise output in the student version; three submissions are autograded
side by side (one course copy each): the student version untouched ("blank": 0 points on every
exercise), the answer key ("key": full marks) and the key with every number its solutions assign
at top level replaced by a made-up one ("madeup": 0 points on each exercise whose answer is a
number); and the key whose every answer cell also tampers in a way only the run-time guard of
course/guard.py sees (numpy aliased, then `isclose`, `allclose`, `array_equal` and
`testing.assert_allclose` rebound to pass), which must score 0 on every exercise, the guard named;
where `UNTRAINED` names an exercise whose answer is a trained model, the key with an untrained (or
hand-altered) model in its place, which must score 0 on that exercise;
`nbgrader generate_feedback` writes feedback for all four. Autograding re-runs each chapter four
times, two at a time on 2 cores: about 2x its run time, ~10 min CPU for the book.
Needs the `course` extra (nbgrader); skipped without it.
"""
from __future__ import annotations

import ast
import copy
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="needs the `course` extra: pip install -e '.[course]'")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "course"))
import ssl_course  # noqa: E402

NOTEBOOKS = ssl_course.chapters()
COURSE_ID = "ssl-from-scratch"
MADE_UP = "MADE-UP"


def assigned_names(code: str) -> list[str]:
    """Names that top-level statements of code assign (a = ..., a, b = ..., a += ...)."""
    names: list[str] = []
    for node in ast.parse(code).body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
        for target in targets:
            names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(names))


def made_up_source(source: str) -> str:
    """source with, after each top-level solution, every number it assigned replaced by 0.8x + 0.05."""
    lines, out, region = source.splitlines(keepends=True), [], None
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n")
        if line.rstrip("\n") == ssl_course.BEGIN:
            region = []
        elif line.rstrip("\n") == ssl_course.END and region is not None:
            names = assigned_names("".join(region))
            if names:
                out.append(f"for _name in {names!r}:\n"
                           "    _value = globals().get(_name)\n"
                           "    if isinstance(_value, __import__('numbers').Real) and not isinstance(_value, bool):\n"
                           "        globals()[_name] = float(_value) * 0.8 + 0.05\n"
                           f"        print({MADE_UP!r}, _name)\n")
            region = None
        elif region is not None:
            region.append(line)
    return "".join(out)


def made_up_notebook(key: dict) -> dict:
    """The answer key with made-up numbers in place of the numbers its solutions compute."""
    nb = copy.deepcopy(key)
    for cell in nb["cells"]:
        if ssl_course.nbgrader_meta(cell).get("solution") and cell["cell_type"] == "code":
            cell["source"] = made_up_source(ssl_course.source(cell))
    return nb


TAMPER = """
_m = [np][0]
_m.isclose = lambda *a, **k: True
_m.allclose = lambda *a, **k: True
_m.array_equal = lambda *a, **k: True
_m.testing.assert_allclose = lambda *a, **k: None
"""


# Answers that look trained but are not: {answer cell: its replacement}. Each must score 0.
UNTRAINED = {
    "ch05-ex3-answer": ("bare = BYOL(np.random.default_rng(0), predictor=False)\n"
                        "bare.encoder.layers[0].weight.data = bare.encoder.layers[0].weight.data * 0.0\n"
                        "bare_std = embedding_std(encode(bare, x_test))\n"),
}


def untrained_notebook(key: dict) -> dict | None:
    """The key with each UNTRAINED answer of the chapter swapped in (None if the chapter has none)."""
    nb = copy.deepcopy(key)
    swapped = [c for c in nb["cells"] if ssl_course.nbgrader_meta(c).get("grade_id") in UNTRAINED]
    for cell in swapped:
        cell["source"] = UNTRAINED[ssl_course.nbgrader_meta(cell)["grade_id"]]
    return nb if swapped else None


def tampering_notebook(key: dict) -> dict:
    """The answer key whose answer cells also rebind numpy's comparisons through an alias."""
    nb = copy.deepcopy(key)
    for cell in nb["cells"]:
        if ssl_course.nbgrader_meta(cell).get("solution") and cell["cell_type"] == "code":
            cell["source"] = ssl_course.source(cell).rstrip("\n") + "\n" + TAMPER
    return nb


def exercises(nb: dict) -> list[tuple[str, str]]:
    """(answer grade_id, the grade_id of the check cell after it) for each exercise."""
    found, answer = [], None
    for cell in nb["cells"]:
        meta = ssl_course.nbgrader_meta(cell)
        if meta.get("solution") and cell["cell_type"] == "code":
            answer = meta["grade_id"]
        elif meta.get("grade") and answer is not None:
            found.append((answer, meta["grade_id"]))
            answer = None
    return found


def autograde(aid: str, course: Path) -> str:
    """Autograde assignment aid in course; the end of nbgrader's log if it failed, else ''."""
    argv, env = ssl_course.nbgrader_command("autograde", aid, course=course)
    done = subprocess.run(argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return done.stdout[-3000:] if done.returncode else ""


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.stem)
def graded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Release one chapter, autograde the three submissions; scores, notebooks and leaks found."""
    from nbgrader.api import Gradebook

    notebook: Path = request.param
    course = tmp_path_factory.mktemp(f"course_{notebook.stem[:2]}")
    aid = ssl_course.assignment_id(notebook)
    leaks = ssl_course.release([notebook], course)
    key = json.loads(notebook.read_text(encoding="utf-8"))
    released = course / "release" / aid / notebook.name
    submissions = {"blank": json.loads(released.read_text(encoding="utf-8")), "key": key,
                   "madeup": made_up_notebook(key), "tamper": tampering_notebook(key)}
    if untrained_notebook(key) is not None:
        submissions["untrained"] = untrained_notebook(key)
    # One copy of the course (release and gradebook) per submission, autograded two at a time:
    # each run executes the whole chapter in one BLAS thread.
    courses = {}
    for student, nb in submissions.items():
        courses[student] = own = course.with_name(f"{course.name}_{student}")
        shutil.copytree(course, own)
        target = own / "submitted" / student / aid / notebook.name
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    with ThreadPoolExecutor(2) as pool:
        failed = {s: log for s, log in zip(courses, pool.map(lambda own: autograde(aid, own), courses.values())) if log}
    assert not failed, f"nbgrader autograde failed: {failed}"
    scores: dict[str, dict[str, tuple[float, float, float | None]]] = {}  # score, max, autograder's
    for student, own in courses.items():
        ssl_course.run_nbgrader("generate_feedback", aid, course=own)
        with Gradebook(f"sqlite:///{own / 'gradebook.db'}", course_id=COURSE_ID) as gb:
            graded_nb = gb.find_submission_notebook(notebook.stem, aid, student)
            scores[student] = {g.name: (g.score, g.max_score, g.auto_score) for g in graded_nb.grades}
    autograded = {s: nbformat.read(own / "autograded" / s / aid / notebook.name, as_version=4)
                  for s, own in courses.items()}
    feedback = sorted(f for own in courses.values() for f in (own / "feedback").rglob("*.html"))
    return {"aid": aid, "key": key, "scores": scores, "autograded": autograded, "leaks": leaks,
            "feedback": feedback, "released": released}


def test_release_leaks_nothing(graded: dict) -> None:
    assert not graded["leaks"], "\n".join(graded["leaks"])
    student = json.loads(graded["released"].read_text(encoding="utf-8"))
    assert "### BEGIN" not in json.dumps(student), "a solution or hidden-test marker is left in the release"


def written_answers(nb: dict) -> list[str]:
    """grade_ids of the written answers graded by hand (markdown solution + grade cells)."""
    return [ssl_course.nbgrader_meta(c)["grade_id"] for c in nb["cells"] if c["cell_type"] == "markdown"
            and ssl_course.nbgrader_meta(c).get("solution") and ssl_course.nbgrader_meta(c).get("grade")]


def test_every_check_cell_and_written_answer_is_graded(graded: dict) -> None:
    checks = [check for _, check in exercises(graded["key"])]
    assert checks and set(graded["scores"]["key"]) == set(checks) | set(written_answers(graded["key"]))


def test_written_answers_wait_for_the_grader_and_blank_ones_score_zero(graded: dict) -> None:
    for why in written_answers(graded["key"]):
        assert graded["scores"]["key"][why][2] is None, f"{why}: a written answer must be graded by hand"
        assert graded["scores"]["blank"][why][2] == 0, f"{why}: an unanswered written answer must score 0"


def test_blank_submission_scores_zero(graded: dict) -> None:
    scored = {k: v for k, v in graded["scores"]["blank"].items() if v[0] != 0}
    assert not scored, f"{graded['aid']}: an empty answer earns points: {scored}"


def test_answer_key_scores_full_marks(graded: dict) -> None:
    written = written_answers(graded["key"])
    short = {k: v for k, v in graded["scores"]["key"].items() if v[0] != v[1] and k not in written}
    assert not short, f"{graded['aid']}: the answer key loses points (score, max): {short}"


def test_made_up_numbers_score_zero(graded: dict) -> None:
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded["autograded"]["madeup"].cells}
    made_up = [check for answer, check in exercises(graded["key"])
               if any(MADE_UP in o.get("text", "") for o in cells[answer].outputs)]
    scored = {c: graded["scores"]["madeup"][c] for c in made_up if graded["scores"]["madeup"][c][0] != 0}
    assert not scored, f"{graded['aid']}: made-up numbers earn points on {scored}"
    broken = [a for a, _ in exercises(graded["key"]) if any(o.output_type == "error" for o in cells[a].outputs)]
    assert not broken, f"{graded['aid']}: the made-up submission's answer cells {broken} fail to run"


def test_tampering_scores_zero(graded: dict) -> None:
    written = written_answers(graded["key"])
    scored = {k: v for k, v in graded["scores"]["tamper"].items() if v[0] != 0 and k not in written}
    assert not scored, f"{graded['aid']}: a submission that rebinds what the checks use earns points: {scored}"
    cells = [c for c in graded["autograded"]["tamper"].cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    silent = [c.metadata.nbgrader.grade_id for c in cells
              if not any("rebinds what the checks use" in o.get("evalue", "") for o in c.outputs)]
    assert not silent, f"{graded['aid']}: the guard did not name the tampering in {silent}"


def test_untrained_answers_score_zero(graded: dict) -> None:
    if "untrained" not in graded["scores"]:
        pytest.skip(f"{graded['aid']} has no exercise whose answer is a trained model")
    ids = [check for answer, check in exercises(graded["key"]) if answer in UNTRAINED]
    scored = {c: graded["scores"]["untrained"][c] for c in ids if graded["scores"]["untrained"][c][0] != 0}
    assert not scored, f"{graded['aid']}: an untrained model earns points: {scored}"


def test_feedback_written_for_every_submission(graded: dict) -> None:
    assert len(graded["feedback"]) == len(graded["scores"]), graded["feedback"]


# --- self-tests of the helpers above and of the leak check --------------------------------------

def test_made_up_source_replaces_only_top_level_numbers() -> None:
    source = f"x = 1\n{ssl_course.BEGIN}\na, b = 2.0, [3]\nc += 1\n{ssl_course.END}\nprint(a)\n"
    namespace = {"c": 1}
    exec(made_up_source(source), namespace)
    assert namespace["a"] == pytest.approx(2.0 * 0.8 + 0.05) and namespace["b"] == [3]
    assert namespace["c"] == pytest.approx(2 * 0.8 + 0.05) and namespace["x"] == 1
    assert made_up_source(f"{ssl_course.BEGIN}\na = 1\n{ssl_course.END}").count("\n") > 3  # no newline at the end
    indented = f"def f():\n    {ssl_course.BEGIN}\n    return 1\n    {ssl_course.END}\n"
    assert made_up_source(indented) == indented


def test_leak_check_catches_solutions_hidden_tests_and_outputs() -> None:
    key = nbformat.read(NOTEBOOKS[0], as_version=4)
    assert ssl_course.leaks(key, key), "the key itself must count as a leak"
    student = copy.deepcopy(key)
    ssl_course.ClearExerciseOutputs().preprocess(student, {})
    for cell in student.cells:
        cell.source = cell.source.split(ssl_course.BEGIN)[0].split(ssl_course.BEGIN_HIDDEN)[0]
    assert ssl_course.leaks(key, student) == []
    student.cells[-1].outputs = copy.deepcopy(next(c.outputs for c in reversed(key.cells) if c.get("outputs")))
    assert any("output" in p for p in ssl_course.leaks(key, student))
