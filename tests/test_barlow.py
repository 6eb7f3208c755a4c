"""Tests for helpers.barlow: cross-correlation, one step, short training, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.barlow import (
    BarlowTwins,
    barlow_step,
    cross_correlation,
    train_barlow_twins,
)
from helpers.data import mnist_split
from helpers.losses import barlow_twins_loss
from helpers.optim import AdamW
from helpers.simclr import SimCLR, encode

SMALL_ENCODER, SMALL_HEAD = (784, 32, 16), (16, 16, 8)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return mnist_split()[0][:64]


def small_model(seed: int = 0) -> BarlowTwins:
    return BarlowTwins(np.random.default_rng(seed), SMALL_ENCODER, SMALL_HEAD)


def test_cross_correlation_matches_the_loss() -> None:
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    c = cross_correlation(z1, z2)
    eye = np.eye(6)
    from_c = ((c - eye) ** 2 * (eye + 0.3 * (1 - eye))).sum()
    assert from_c == pytest.approx(float(barlow_twins_loss(z1, z2, 0.3)), rel=1e-4)


def test_cross_correlation_of_a_batch_with_itself_has_unit_diagonal() -> None:
    z = np.random.default_rng(1).normal(size=(40, 5))
    c = cross_correlation(z, 3 * z + 1)
    assert np.allclose(np.diag(c), 1, atol=1e-4)
    assert np.all(np.abs(c) <= 1 + 1e-9)


def test_same_architecture_as_simclr() -> None:
    model = small_model()
    assert isinstance(model, SimCLR)
    assert encode(model, np.zeros((3, 28, 28), np.float32)).shape == (3, 8)


def test_step_returns_the_loss_and_changes_weights(digits: np.ndarray) -> None:
    model = small_model()
    before = model.state_dict()
    loss = barlow_step(
        model,
        AdamW(model.parameters(), lr=1e-3),
        digits[:16],
        np.random.default_rng(0),
        5e-3,
    )
    assert np.isfinite(loss) and loss > 0
    assert any(not np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_training_lowers_the_loss_and_is_deterministic(digits: np.ndarray) -> None:
    runs = [
        train_barlow_twins(
            small_model(), digits, epochs=12, batch_size=32, seed=3, desc="t"
        )
        for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])
    assert runs[0][-4:].mean() < runs[0][:4].mean()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epochs": 0},
        {"epochs": float("nan")},
        {"batch_size": 1},
        {"batch_size": 1000},
        {"lambd": -1.0},
        {"seed": -1},
        {"seed": 1.5},
    ],
)
def test_bad_arguments_raise(digits: np.ndarray, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        train_barlow_twins(
            small_model(), digits, **{"epochs": 1, "batch_size": 16, **kwargs}
        )


def test_bad_model_and_images_raise(digits: np.ndarray) -> None:
    with pytest.raises(TypeError, match="BarlowTwins"):
        train_barlow_twins(object(), digits, epochs=1)
    with pytest.raises(ValueError, match="images"):
        train_barlow_twins(small_model(), digits.reshape(64, -1), epochs=1)
    bad = digits.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_barlow_twins(small_model(), bad, epochs=1, batch_size=16)


@pytest.mark.parametrize(
    "z1, z2",
    [
        (np.zeros((1, 3)), np.zeros((1, 3))),
        (np.zeros((4, 3)), np.zeros((4, 2))),
        (np.zeros(4), np.zeros(4)),
        (np.full((4, 2), np.inf), np.zeros((4, 2))),
    ],
)
def test_cross_correlation_bad_input(z1: np.ndarray, z2: np.ndarray) -> None:
    with pytest.raises(ValueError):
        cross_correlation(z1, z2)
