"""Repository-wide pytest set-up: the sanitize file from anywhere, `approx:` tags."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
# tests/nbval_approx.py: tolerant checks of training-dependent cells
pytest_plugins = ["nbval_approx"]


def pytest_configure(config: pytest.Config) -> None:
    """Resolve a relative sanitize file against the repository root (nbval: CWD)."""
    name = getattr(config.option, "nbval_sanitize_with", None)
    if not name or Path(name).is_absolute() or Path(name).exists():
        return
    candidate = Path(config.rootpath) / name
    if candidate.exists():
        config.option.nbval_sanitize_with = str(candidate)


# Chapters whose code needs an optional extra (pyproject.toml), and the module that
# tells it is installed.
CHAPTER_EXTRAS: dict[str, str] = {"A3_pytorch_and_scale": "torch"}
# besides nbval, the tests that run a chapter's code
EXECUTING_TESTS = ("test_exercises.py", "test_nbgrader.py")


def missing_extra_skips(items: list, installed) -> list[tuple[object, str]]:
    """(item, reason) per test running a chapter whose extra is missing."""
    skips = []
    for chapter, module in CHAPTER_EXTRAS.items():
        if installed(module):
            continue
        reason = (
            f"{chapter} needs the optional extra {module!r}: "
            f"pip install -e '.[{module}]'"
        )
        for item in items:
            name = Path(str(item.fspath)).name
            if name == f"{chapter}.ipynb" or (
                name in EXECUTING_TESTS and chapter in item.nodeid
            ):
                skips.append((item, reason))
    return skips


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """A reader without an optional extra passes `make test`: its chapter is skipped."""
    import importlib.util

    for item, reason in missing_extra_skips(
        items, lambda m: importlib.util.find_spec(m) is not None
    ):
        item.add_marker(pytest.mark.skip(reason=reason))
