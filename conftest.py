"""Repository-wide pytest set-up: the sanitize file from any directory, and the book's `approx:` tags."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
pytest_plugins = ["nbval_approx"]  # tests/nbval_approx.py: tolerant checks of training-dependent cells


def pytest_configure(config: pytest.Config) -> None:
    """Resolve a relative sanitize file against the repository root, as nbval opens it from the CWD."""
    name = getattr(config.option, "nbval_sanitize_with", None)
    if not name or Path(name).is_absolute() or Path(name).exists():
        return
    candidate = Path(config.rootpath) / name
    if candidate.exists():
        config.option.nbval_sanitize_with = str(candidate)
