"""PyTorch is optional: without it, its helpers say how to install it."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest


@pytest.mark.parametrize("module", ["helpers.torch_bridge", "helpers.distributed"])
def test_import_without_torch_names_the_install_command(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else real_find_spec(name, *a),
    )
    for name in ("helpers.torch_bridge", "helpers.distributed"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install -e '\.\[torch\]'"):
        importlib.import_module(module)


def test_without_torch_its_chapter_is_skipped_where_it_would_run() -> None:
    from types import SimpleNamespace

    from conftest import missing_extra_skips

    def item(path: str, nodeid: str) -> SimpleNamespace:
        return SimpleNamespace(fspath=path, nodeid=nodeid)

    items = [
        item(
            "notebooks/A3_pytorch_and_scale.ipynb",
            "notebooks/A3_pytorch_and_scale.ipynb::Cell 0",
        ),
        item(
            "tests/test_nbgrader.py",
            "tests/test_nbgrader.py::test_blank[A3_pytorch_and_scale]",
        ),
        item(
            "tests/test_exercises.py",
            "tests/test_exercises.py::test_x[A3_pytorch_and_scale-ex1]",
        ),
        item(
            "tests/test_notebook_policy.py",
            "tests/test_notebook_policy.py::test_policy[A3_pytorch_and_scale]",
        ),
        item(
            "notebooks/04_contrastive_learning.ipynb",
            "notebooks/04_contrastive_learning.ipynb::Cell 0",
        ),
    ]
    skipped = missing_extra_skips(items, lambda module: module != "torch")
    assert [i for i, _ in skipped] == items[:3], (
        "runs of A3's code skip, reading its JSON and other chapters do not"
    )
    assert all("pip install -e '.[torch]'" in reason for _, reason in skipped)
    assert missing_extra_skips(items, lambda module: True) == []
