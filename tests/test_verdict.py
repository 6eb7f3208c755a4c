"""Tests for helpers.verdict: the book's rule (paired, 2 standard errors, ddof 1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers.verdict import Verdict, compare


def test_words_by_hand() -> None:
    # differences 0.02, 0.03, 0.01: mean 0.02, sd 0.01, s.e. 0.01/sqrt(3) -> 0.02 -
    # 0.0115 > 0
    v = compare([0.92, 0.93, 0.91], [0.90, 0.90, 0.90])
    assert v.word == "ahead" and v.n == 3
    assert v.mean == pytest.approx(0.02) and v.se == pytest.approx(0.01 / math.sqrt(3))
    assert compare([0.90, 0.90, 0.90], [0.92, 0.93, 0.91]).word == "behind"
    assert compare([0.92, 0.88, 0.91], [0.90, 0.90, 0.90]).word == "level"
    assert compare([0.5, 0.5], [0.5, 0.5]).word == "level"


def test_pairing_removes_shared_noise() -> None:
    # draw-to-draw swings of +-5 points shared by both: unpaired means are within one
    # sd, paired is clear
    rng = np.random.default_rng(0)
    draws = rng.normal(0, 0.05, 10)
    a, b = 0.80 + draws + 0.01, 0.80 + draws + rng.normal(0, 0.001, 10)
    assert compare(a, b).word == "ahead"


def test_string_and_bounds() -> None:
    v = compare([0.92, 0.93, 0.91], [0.90, 0.90, 0.90])
    assert str(v).startswith("ahead (+0.020 ± 0.012, 3 paired draws")
    assert v.low == pytest.approx(v.mean - 2 * v.se) and v.high == pytest.approx(
        v.mean + 2 * v.se
    )
    assert isinstance(v, Verdict)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=2, max_size=20))
def test_antisymmetric_and_consistent(pairs: list[tuple[float, float]]) -> None:
    a, b = np.array(pairs).T
    forward, backward = compare(a, b), compare(b, a)
    flip = {"ahead": "behind", "behind": "ahead", "level": "level"}
    assert backward.word == flip[forward.word]
    assert (forward.word == "ahead") == (forward.low > 0)
    assert (forward.word == "behind") == (forward.high < 0)


@pytest.mark.parametrize(
    "a, b, match",
    [
        ([0.9], [0.8], "at least 2"),
        ([0.9, 0.8], [0.8], "equal lengths"),
        ([[0.9, 0.8]], [0.8, 0.7], "a"),
        ([0.9, np.nan], [0.8, 0.7], "a"),
    ],
)
def test_bad_input(a: list, b: list, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        compare(a, b)
