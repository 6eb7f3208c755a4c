"""Tests of helpers.timing."""

from __future__ import annotations

import time

import pytest

from helpers.timing import best_time


def test_best_time_calls_fn_repeats_times_and_returns_the_shortest() -> None:
    calls = []
    assert best_time(lambda: calls.append(time.sleep(0.001)), repeats=3) >= 0.001
    assert len(calls) == 3


@pytest.mark.parametrize(
    "fn,repeats,match", [(None, 3, "fn must be callable"), (lambda: 0, 0, "repeats")]
)
def test_best_time_rejects_bad_input(fn, repeats: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        best_time(fn, repeats)


def test_interleaved_medians_times_every_contender_each_round() -> None:
    from helpers.timing import interleaved_medians

    calls = {"a": 0, "b": 0}
    medians = interleaved_medians(
        {
            "a": lambda: calls.__setitem__("a", calls["a"] + 1),
            "b": lambda: calls.__setitem__("b", calls["b"] + 1),
        },
        repeats=4,
    )
    assert (
        calls == {"a": 4, "b": 4}
        and set(medians) == {"a", "b"}
        and all(v >= 0 for v in medians.values())
    )
    for bad in ({}, {"a": 1}):
        with pytest.raises(ValueError, match="contenders"):
            interleaved_medians(bad, 2)


def test_interleaved_medians_reads_the_given_clock() -> None:
    from helpers.timing import interleaved_medians

    ticks = iter(range(100))
    medians = interleaved_medians(
        {"a": lambda: None, "b": lambda: None}, repeats=3, clock=lambda: 3 * next(ticks)
    )
    assert medians == {"a": 3, "b": 3}  # every call spans one tick of the fake clock
    with pytest.raises(ValueError, match="clock must be callable"):
        interleaved_medians({"a": lambda: None}, 2, clock=1.0)
