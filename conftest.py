"""Repository-wide pytest set-up: make `--nbval-sanitize-with FILE` work from any directory."""
from __future__ import annotations

from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Resolve a relative sanitize file against the repository root, as nbval opens it from the CWD."""
    name = getattr(config.option, "nbval_sanitize_with", None)
    if not name or Path(name).is_absolute() or Path(name).exists():
        return
    candidate = Path(config.rootpath) / name
    if candidate.exists():
        config.option.nbval_sanitize_with = str(candidate)
