"""Tests for helpers.capstone: the validation split and chapter 07's curves."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.capstone import (
    labelled_indices,
    lp_ft_curve,
    scratch_curve,
    validation_split,
)
from helpers.simclr import make_mlp_encoder

LABELS = np.repeat(np.arange(10), 8)


def _digits(n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tiny 28x28 'digits' of 2 classes: class 1 has a bright centre, class 0 none."""
    y = np.repeat(np.arange(2), n_per_class)
    x = (
        np.random.default_rng(seed)
        .uniform(0, 0.1, size=(len(y), 28, 28))
        .astype(np.float32)
    )
    x[y == 1, 8:20, 8:20] = 1.0
    return x, y


def test_validation_split_is_a_stratified_partition() -> None:
    train, held = validation_split(LABELS, 3, seed=1)
    assert np.array_equal(
        np.sort(np.concatenate([train, held])), np.arange(len(LABELS))
    )
    assert (
        np.bincount(LABELS[held]).tolist() == [3] * 10
        and np.bincount(LABELS[train]).tolist() == [5] * 10
    )
    assert np.array_equal(validation_split(LABELS, 3, seed=1)[1], held)
    assert not np.array_equal(validation_split(LABELS, 3, seed=2)[1], held)


@pytest.mark.parametrize("per_class", [8, 9, -1])
def test_validation_split_rejects_a_split_that_empties_a_class(per_class: int) -> None:
    with pytest.raises(ValueError):
        validation_split(LABELS, per_class)


def test_labelled_indices_draw_from_the_pool_only() -> None:
    train, held = validation_split(LABELS, 3)
    idx = labelled_indices(LABELS, train, 2, draw=0)
    assert set(idx) <= set(train) and np.bincount(LABELS[idx]).tolist() == [2] * 10
    assert np.array_equal(labelled_indices(LABELS, train, 0, draw=0), train)
    with pytest.raises(ValueError):
        labelled_indices(LABELS, np.array([0, 99]), 1, draw=0)


def test_scratch_curve_learns_separable_digits() -> None:
    x, y = _digits(10)
    scored = {"validation": _digits(3, seed=1), "test": _digits(3, seed=2)}
    curve = scratch_curve(x, y, scored, steps=40, every=20, encoder_sizes=(784, 32, 16))
    assert curve.shape == (2, 2) and curve[:, -1].min() > 0.8  # chance is 0.5


def test_lp_ft_curve_scores_after_the_probe_and_leaves_the_encoder_alone() -> None:
    x, y = _digits(10)
    encoder = make_mlp_encoder(np.random.default_rng(0), (784, 32, 16))
    before = {k: v.copy() for k, v in encoder.state_dict().items()}
    curve = lp_ft_curve(
        encoder,
        16,
        x,
        y,
        {"test": _digits(3, seed=2)},
        probe_steps=200,
        steps=20,
        every=10,
    )
    assert curve.shape == (1, 3) and curve[0, 0] > 0.8
    assert all(np.array_equal(before[k], v) for k, v in encoder.state_dict().items())


@pytest.mark.parametrize(
    "bad", [{"steps": 10, "every": 3}, {"steps": 0}, {"scored": {}}]
)
def test_curves_reject_bad_settings(bad: dict) -> None:
    x, y = _digits(2)
    kw = {"scored": {"test": _digits(1)}, "steps": 4, "every": 2, **bad}
    with pytest.raises(ValueError):
        scratch_curve(x, y, kw.pop("scored"), encoder_sizes=(784, 8, 4), **kw)
