"""PyTorch is an optional extra: without it, its helpers say how to install it (runs with or without torch)."""
from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest


@pytest.mark.parametrize("module", ["helpers.torch_bridge", "helpers.distributed"])
def test_import_without_torch_names_the_install_command(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    for name in ("helpers.torch_bridge", "helpers.distributed"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install -e '\.\[torch\]'"):
        importlib.import_module(module)
