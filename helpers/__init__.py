"""The library the chapters of "Self-Supervised Learning from Scratch" stand on."""
from __future__ import annotations

import inspect
from typing import Any

from threadpoolctl import threadpool_limits

# The book's models are small: one BLAS thread is about as fast as two, and it does not collapse
# (10x slower, measured) when the laptop is busy with anything else. Importing helpers sets it.
threadpool_limits(limits=1, user_api="blas")


def show_source(obj: Any) -> Any:
    """Display the source of a helper function or class in a notebook, highlighted."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
