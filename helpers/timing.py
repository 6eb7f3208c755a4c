"""Wall-clock timing for the few cells that measure speed (outputs vary by machine)."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from helpers._checks import check_int


def best_time(fn: Callable[[], Any], repeats: int = 5) -> float:
    """Shortest wall-clock seconds of fn() over repeats calls (least disturbed)."""
    if not callable(fn):
        raise ValueError(
            f"fn must be callable with no arguments, got {type(fn).__name__}"
        )
    check_int(repeats, "repeats", minimum=1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_medians(
    contenders: dict[str, Callable[[], Any]],
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """Median seconds of each contender, timed in turn round after round (fair under
    load).

    clock: wall-clock by default; time.process_time counts only this process's CPU time,
    steadier on a busy machine for single-threaded work.
    """
    if not contenders or not all(callable(fn) for fn in contenders.values()):
        raise ValueError(
            "contenders must be a non-empty dict of name -> callable with no arguments"
        )
    check_int(repeats, "repeats", minimum=1)
    if not callable(clock):
        raise ValueError(
            "clock must be callable with no arguments, returning seconds, got "
            f"{type(clock).__name__}"
        )
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}
