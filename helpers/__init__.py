"""The library the chapters of "Self-Supervised Learning from Scratch" stand on."""

from __future__ import annotations

import inspect
import os
from typing import Any

# One BLAS thread, book-wide. The models are small: one thread is about as fast as two,
# it does not collapse (5-10x slower, measured) when the laptop is busy, and trained
# numbers depend on the thread count, so every run must use the same. The variables
# cover BLAS libraries loaded later (scipy's); threadpoolctl limits the one numpy has
# already loaded.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy  # noqa: E402  (load numpy's BLAS so that the limit below reaches it)
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")


def show_source(obj: Any) -> Any:
    """Display the source of a helper function or class in a notebook, highlighted."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
