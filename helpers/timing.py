"""Wall-clock timing for the few cells that measure speed (their outputs vary by machine)."""
from __future__ import annotations

import time
from typing import Any, Callable

from helpers._checks import check_int


def best_time(fn: Callable[[], Any], repeats: int = 5) -> float:
    """Shortest wall-clock seconds of fn() over repeats calls: the run least disturbed by other work."""
    if not callable(fn):
        raise ValueError(f"fn must be callable with no arguments, got {type(fn).__name__}")
    check_int(repeats, "repeats", minimum=1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
