"""course/guard.py: what autograding rejects as tampering or as a forbidden helper,
without a kernel.

For every exercise of every chapter: the key's answer passes; the key's answer plus a
rebinding of `np.isclose` (directly, through an imported helper, through `exec`) is
rejected; an answer that reaches a helper its prompt forbids is rejected for that
exercise only. The run-time guard cell is executed in a plain namespace: untouched it
passes, an aliased rebinding of a numpy function or of a chapter name makes it raise.
tests/test_nbgrader.py runs the guard inside real nbgrader autograding.
"""

from __future__ import annotations

import ast
import copy
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "course"))
import guard  # noqa: E402
import ssl_course  # noqa: E402

NOTEBOOKS = ssl_course.chapters()
MODULES = {"np", "plt", "helpers"}
TAMPERS = [
    "np.isclose = lambda *a, **k: True",
    "exec('np.isclose = abs')",
    "import builtins",
    "np.__dict__['isclose'] = abs",
    "setattr(np, 'isclose', abs)",
    "class Yes:\n    def __eq__(self, other):\n        return True",
    "from unittest.mock import MagicMock",
    "vars()['np'] = None",
    "np.testing.assert_allclose = print",
]


def answer_cells() -> list:
    """(chapter, answer cell, notebook) for every exercise of every chapter."""
    cases = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        cases += [
            pytest.param(
                path, c.metadata.nbgrader.grade_id, id=c.metadata.nbgrader.grade_id
            )
            for c in nb.cells
            if guard.meta(c).get("solution") and c.cell_type == "code"
        ]
    return cases


@pytest.mark.parametrize("tamper", TAMPERS)
def test_tampering_is_found(tamper: str) -> None:
    assert guard.tampering(tamper, MODULES)


@pytest.mark.parametrize(
    "fine",
    [
        "x = np.isclose(1, 1)",
        "model.head = Identity()",
        "super().__init__()",
        "a[0] = 1",
        "def f(self):\n    self.w = 2",
        "import numpy as np2",
    ],
)
def test_ordinary_code_is_not_tampering(fine: str) -> None:
    assert guard.tampering(fine, MODULES) == []


def test_forbidden_helpers_are_found_by_name_attribute_and_import() -> None:
    forbidden = frozenset({"embedding_std"})
    for source in [
        "embedding_std(z)",
        "helpers.byol.embedding_std(z)",
        "from helpers.byol import embedding_std as e",
    ]:
        assert guard.forbidden_uses(source, forbidden) == ["embedding_std"], source
    assert guard.forbidden_uses("np.std(z)", forbidden) == []


def test_bound_names_and_key_imports() -> None:
    source = (
        "from helpers.data import split as s\nimport numpy\n"
        "a, (b, c) = 1, (2, 3)\nfor i in []: pass\ndef f(): x = 1"
    )
    assert guard.bound_names(source) == {"s", "numpy", "a", "b", "c", "i", "f"}
    assert guard.key_imports(source) == {"s": ("helpers.data", "split")}


@pytest.mark.parametrize("path, answer", answer_cells())
def test_each_exercise_key_passes_and_tampering_or_forbidden_helper_fails(
    path: Path, answer: str
) -> None:
    key = nbformat.read(path, as_version=4)
    assert first_check_line(guarded(key, answer, None), answer) == "_guard_t()"
    tampered = first_check_line(
        guarded(key, answer, "np.isclose = lambda *a, **k: True"), answer
    )
    assert tampered.startswith("raise AssertionError('no points: assigns np.isclose"), (
        tampered
    )
    for name in guard.FORBIDDEN.get(answer, ()):
        assert f"uses {name}, which the prompt forbids" in first_check_line(
            guarded(key, answer, f"_peek = {name}"), answer
        )


def guarded(
    key: nbformat.NotebookNode, answer: str, extra: str | None
) -> nbformat.NotebookNode:
    """The guarded notebook of a submission equal to key, extra in an answer cell."""
    nb = copy.deepcopy(key)
    cell = next(c for c in nb.cells if guard.meta(c).get("grade_id") == answer)
    cell.source += f"\n{extra}\n" if extra else ""
    return guard.guard_notebook(nb, key, "t")


def first_check_line(nb: nbformat.NotebookNode, answer: str) -> str:
    """The first line of the check cell that follows the answer cell."""
    ids = [guard.meta(c).get("grade_id") for c in nb.cells]
    check = next(
        c
        for c in nb.cells[ids.index(answer) + 1 :]
        if guard.meta(c).get("grade") and c.cell_type == "code"
    )
    return check.source.splitlines()[0]


def test_guard_cell_catches_aliased_rebinding_of_numpy_and_chapter_names() -> None:
    namespace = {"np": np, "digits": [1, 2], "answer": 3}
    exec(guard.guard_cell("_g", {"digits"}, {}), namespace)
    namespace["_g"]()
    namespace["answer"] = 4  # a name the checks do not watch may change
    namespace["_g"]()
    original, alias = np.isclose, [np][0]
    try:
        alias.isclose = lambda *a, **k: True
        with pytest.raises(AssertionError, match="numpy.isclose"):
            namespace["_g"]()
    finally:
        np.isclose = original
    namespace["digits"] = [0]
    with pytest.raises(AssertionError, match="digits"):
        namespace["_g"]()


def test_guard_cell_checks_helpers_the_key_imports() -> None:
    namespace: dict = {}
    exec("from helpers.data import stratified_split", namespace)
    exec(
        guard.guard_cell(
            "_g", set(), {"stratified_split": ("helpers.data", "stratified_split")}
        ),
        namespace,
    )
    namespace["_g"]()
    namespace["stratified_split"] = lambda *a, **k: None
    with pytest.raises(AssertionError, match="stratified_split"):
        namespace["_g"]()


def test_guard_cell_survives_a_helpers_module_whose_dependency_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    real = importlib.import_module

    def without_data(name: str, *args: object) -> object:
        if name == "helpers.data":
            raise ImportError("an optional dependency is missing")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_data)
    namespace: dict = {}
    exec(guard.guard_cell("_g", set(), {}), namespace)
    namespace["_g"]()


def earlier_places(key: nbformat.NotebookNode, answer: str, name: str) -> list[str]:
    """grade_ids of answer cells before answer whose key lacks name (may compute)."""
    ids = [
        guard.meta(c).get("grade_id")
        for c in key.cells
        if guard.meta(c).get("solution") and c.cell_type == "code"
    ]
    cells = {guard.meta(c).get("grade_id"): c for c in key.cells}
    return [
        a
        for a in ids[: ids.index(answer)]
        if name not in guard.forbidden_uses(cells[a].source, frozenset({name}))
    ]


FORBIDDEN_CASES = [
    pytest.param(path, answer, id=answer)
    for path, answer in [(p.values[0], p.values[1]) for p in answer_cells()]
    if answer in guard.FORBIDDEN
]


@pytest.mark.parametrize("path, answer", FORBIDDEN_CASES)
def test_a_forbidden_helper_used_in_an_earlier_cell_is_found(
    path: Path, answer: str
) -> None:
    """Issue 26: a forbidden helper's value from another exercise scored full marks."""
    key = nbformat.read(path, as_version=4)
    for name in guard.FORBIDDEN[answer]:
        for place in earlier_places(key, answer, name):
            line = first_check_line(guarded(key, place, f"_peek = {name}"), answer)
            assert (
                f"uses {name}, which the prompt forbids (in a cell before the exercise)"
                in line
            ), (place, line)
        added = copy.deepcopy(key)  # a cell the student adds before the first exercise
        added.cells.insert(
            ssl_course.first_exercise_cell(added),
            nbformat.v4.new_code_cell(f"_peek = {name}"),
        )
        line = first_check_line(guard.guard_notebook(added, key, "t"), answer)
        assert f"uses {name}, which the prompt forbids" in line, line


def test_a_chapter_cell_edited_keeps_the_helpers_it_used_and_an_earlier_exercise_its_own() -> (  # noqa: E501
    None
):
    key = nbformat.read(ROOT / "notebooks" / "A1_autograd.ipynb", as_version=4)
    nb = copy.deepcopy(key)
    body = next(
        c
        for c in nb.cells[: ssl_course.first_exercise_cell(nb)]
        if c.cell_type == "code" and "Tensor(" in c.source
    )
    # edited by the student, still using Tensor as the chapter does
    body.source += "\n_x = 1\n"
    guarded_nb = guard.guard_notebook(nb, key, "t")
    # exercise 1 needs Tensor: allowed there
    assert first_check_line(guarded_nb, "chA1-ex2-answer") == "_guard_t()"
    body.source += "\n_y = autograd\n"  # a forbidden name the chapter cell did not use
    line = first_check_line(
        guard.guard_notebook(copy.deepcopy(nb), key, "t"), "chA1-ex2-answer"
    )
    assert "uses autograd, which the prompt forbids" in line, line


def test_guard_cell_snapshots_torch_and_the_methods_of_classes() -> None:
    """Issue 26: torch.allclose (A3) or a class method rebound by alias went unseen."""
    torch = pytest.importorskip("torch")
    from helpers.autograd import Tensor

    namespace = {"np": np, "torch": torch}
    exec(
        guard.guard_cell("_g", set(), {}, guard.PROTECTED_MODULES + ("torch",)),
        namespace,
    )
    layer = torch.nn.Linear(5, 3)
    layer(torch.randn(4, 5)).sum().backward()
    # torch wraps some of its own functions lazily: allowed
    torch.optim.AdamW(layer.parameters()).step()
    namespace["_g"]()
    for owner, attr, fake in [
        (torch, "allclose", lambda *a, **k: True),
        (torch.Tensor, "numpy", lambda self: None),
        (Tensor, "backward", lambda self: None),
    ]:
        alias, original = [owner][0], vars(owner).get(attr)
        setattr(alias, attr, fake)
        try:
            with pytest.raises(AssertionError, match=f"{owner.__name__}.{attr}"):
                namespace["_g"]()
        finally:
            if original is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)
    namespace["_g"]()


def test_torch_is_snapshotted_where_the_chapter_imports_it() -> None:
    a3 = nbformat.read(ROOT / "notebooks" / "A3_pytorch_and_scale.ipynb", as_version=4)
    ch00 = nbformat.read(NOTEBOOKS[0], as_version=4)
    cells = {
        name: next(
            c.source
            for c in guard.guard_notebook(copy.deepcopy(nb), nb, "t").cells
            if "_guard_t_make" in c.source
        )
        for name, nb in (("A3", a3), ("00", ch00))
    }
    roots = {
        name: next(
            line for line in source.splitlines() if line.strip().startswith("roots = ")
        )
        for name, source in cells.items()
    }
    assert "'torch'" in roots["A3"] and "'torch'" not in roots["00"], roots


def test_guard_cell_imports_torch_only_where_the_chapter_does() -> None:
    """Importing torch slowed all autograding; torch-free chapters skip its helpers."""
    assert set(guard.torch_helpers()) == {"helpers.torch_bridge", "helpers.distributed"}
    import subprocess

    script = (
        "import sys\nsys.path.insert(0, 'course')\nimport guard\nns = {}\n"
        "exec(guard.guard_cell('_g', set(), {}), ns)\nns['_g']()\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False", done.stdout + done.stderr
