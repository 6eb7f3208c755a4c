"""Tests of helpers.timing."""
from __future__ import annotations

import time

import pytest

from helpers.timing import best_time


def test_best_time_calls_fn_repeats_times_and_returns_the_shortest() -> None:
    calls = []
    assert best_time(lambda: calls.append(time.sleep(0.001)), repeats=3) >= 0.001
    assert len(calls) == 3


@pytest.mark.parametrize("fn,repeats,match", [(None, 3, "fn must be callable"), (lambda: 0, 0, "repeats")])
def test_best_time_rejects_bad_input(fn, repeats: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        best_time(fn, repeats)
