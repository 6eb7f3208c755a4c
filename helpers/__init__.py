"""The library the chapters of "Self-Supervised Learning from Scratch" stand on."""
from __future__ import annotations

import inspect
from typing import Any


def show_source(obj: Any) -> Any:
    """Display the source of a helper function or class in a notebook, highlighted."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
