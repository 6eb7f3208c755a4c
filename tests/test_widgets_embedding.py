"""Tests of chapter 05's embedding widget: data, trainer, controls, what it shows."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from helpers.widgets.embedding import (  # noqa: E402
    EmbeddingSpaceExplorer,
    EmbeddingTrainer,
    describe_variant,
    key_states_figure,
    toy_blobs,
)


def test_toy_blobs_shapes_classes_and_determinism() -> None:
    x, y = toy_blobs(n_per_class=10, n_classes=4, seed=1)
    assert x.shape == (40, 2) and x.dtype == np.float32
    assert np.array_equal(np.bincount(y), [10] * 4)
    np.testing.assert_array_equal(x, toy_blobs(n_per_class=10, n_classes=4, seed=1)[0])
    means = np.stack([x[y == k].mean(axis=0) for k in range(4)])
    # clusters sit away from the origin
    assert np.all(np.linalg.norm(means, axis=1) > 1)


def test_trainer_records_one_entry_per_call_and_is_deterministic() -> None:
    a, b = EmbeddingTrainer(seed=2), EmbeddingTrainer(seed=2)
    a.step(3)
    b.step(3)
    assert a.steps == 3 and len(a.history["loss"]) == 1
    np.testing.assert_array_equal(a.outputs(), b.outputs())


@pytest.mark.parametrize(
    "kwargs, collapses",
    [
        (dict(objective="SimCLR"), False),
        (dict(), False),
        (dict(ema=False), False),
        (dict(ema=False, stop_gradient=False), True),
        (dict(ema=False, predictor=False), True),
    ],
)
def test_toy_tells_the_truth_of_the_grid(kwargs, collapses) -> None:
    trainer = EmbeddingTrainer(**kwargs)
    trainer.step(100)
    assert (trainer.history["std"][-1] < 0.1) == collapses


def test_stop_gradient_off_with_ema_is_identical_to_byol() -> None:
    a, b = EmbeddingTrainer(), EmbeddingTrainer(stop_gradient=False)
    a.step(20)
    b.step(20)
    np.testing.assert_array_equal(a.outputs(), b.outputs())


def test_controls_drive_the_state_and_image() -> None:
    w = EmbeddingSpaceExplorer(steps_per_frame=2)
    first, updates = w.image.value, w.updates
    assert w.state["steps"] == 0 and w.state["mode"] == "BYOL"
    w.play.value += 1
    assert w.state["steps"] == 2 and w.updates == updates + 1 and w.image.value != first
    w.step_button.click()
    assert w.state["steps"] == 4
    w.ema.value = False
    assert (
        w.trainer.ema is False
        and w.state["mode"] == "SimSiam (no EMA)"
        and w.state["steps"] == 4
    )
    w.predictor.value = False  # a new architecture: a fresh model
    assert w.state["steps"] == 0 and w.trainer.model.predictor is None
    w.step_button.click()
    w.reset_button.click()
    assert w.state["steps"] == 0
    w.objective.value = "SimCLR"
    assert w.state["mode"] == "SimCLR"
    w.play.value += 1
    assert (
        np.isfinite(w.state["loss"])
        and 0 <= w.state["std"] <= 1
        and 1 <= w.state["rank"] <= 2
    )
    assert w._repr_mimebundle_()["text/plain"] == w.caption


def test_describe_variant_names() -> None:
    assert describe_variant(True, True, True) == "BYOL"
    assert describe_variant(False, True, True) == "SimSiam (no EMA)"
    assert describe_variant(False, False, True) == "no EMA + no stop-grad"
    assert describe_variant(True, True, False) == "no predictor"


def test_key_states_figure_returns_one_readout_per_setting() -> None:
    fig, readouts = key_states_figure(
        [dict(), dict(ema=False, predictor=False)], steps=5
    )
    assert len(fig.axes) == 2 and [r["variant"] for r in readouts] == [
        "BYOL",
        "no EMA + no predictor",
    ]


@pytest.mark.parametrize(
    "call",
    [
        lambda: EmbeddingTrainer(objective="MoCo"),
        lambda: EmbeddingTrainer(lr=0),
        lambda: EmbeddingTrainer(jitter=-1),
        lambda: EmbeddingTrainer().step(0),
        lambda: toy_blobs(n_per_class=1),
        lambda: toy_blobs(n_classes=1),
        lambda: EmbeddingSpaceExplorer(steps_per_frame=0),
        lambda: key_states_figure([]),
        lambda: key_states_figure([dict()], steps=0),
    ],
)
def test_bad_arguments_raise_value_error(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_byol_switches_are_disabled_for_simclr() -> None:
    """Issue 27: with SimCLR, EMA/stop-gradient/predictor changed nothing shown."""
    explorer = EmbeddingSpaceExplorer()
    assert not any(
        s.disabled for s in (explorer.ema, explorer.stop_gradient, explorer.predictor)
    )
    explorer.objective.value = "SimCLR"
    assert all(
        s.disabled for s in (explorer.ema, explorer.stop_gradient, explorer.predictor)
    )
    explorer.objective.value = "BYOL"
    assert not any(
        s.disabled for s in (explorer.ema, explorer.stop_gradient, explorer.predictor)
    )
