"""Tests of chapter 04's temperature explorer, no browser: set sliders, read state."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.losses import nt_xent
from helpers.widgets.contrastive import (
    anchor_state,
    cosine_matrix,
    temperature_explorer,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pairs(
    seed: int = 0, n: int = 6, dim: int = 8, noise: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, dim))
    return base + noise * rng.standard_normal(
        (n, dim)
    ), base + noise * rng.standard_normal((n, dim))


@pytest.fixture
def explorer():
    z1, z2 = pairs()
    yield temperature_explorer(z1, z2, labels=np.arange(6) % 3)
    plt.close("all")


def test_starts_with_one_update_and_a_png(explorer) -> None:
    assert explorer.updates == 1
    assert bytes(explorer.image.value).startswith(PNG_MAGIC)
    assert explorer.state["temperature"] == pytest.approx(0.5)
    assert len(explorer.state["probability"]) == 11


def test_moving_tau_changes_state_image_and_counter(explorer) -> None:
    before_png, before_p = (
        bytes(explorer.image.value),
        explorer.state["probability"].copy(),
    )
    explorer.slider.value = 0.05
    assert explorer.updates == 2
    assert explorer.state["temperature"] == pytest.approx(0.05)
    assert explorer.state["probability"].max() > before_p.max()  # a sharper softmax
    assert bytes(explorer.image.value) != before_png and bytes(
        explorer.image.value
    ).startswith(PNG_MAGIC)


def test_moving_the_anchor_changes_the_positive(explorer) -> None:
    explorer.anchor.value = 7
    state = explorer.state
    assert explorer.updates == 2 and state["anchor"] == 7
    assert state["candidates"][state["positive_rank"]] == 1  # (7 + 6) mod 12
    assert 7 not in state["candidates"]


def test_same_value_does_not_redraw(explorer) -> None:
    explorer.slider.value = explorer.slider.value
    assert explorer.updates == 1


def test_probabilities_are_a_softmax_sorted_by_similarity(explorer) -> None:
    s = explorer.state
    assert s["probability"].sum() == pytest.approx(1.0)
    assert np.all(np.diff(s["similarity"]) <= 0)
    assert np.all(np.diff(s["probability"]) <= 1e-12)  # same order as the similarities
    assert s["loss"] == pytest.approx(-np.log(s["p_positive"]))


def test_mean_anchor_loss_equals_the_nt_xent_helper() -> None:
    z1, z2 = pairs(seed=2)
    cos = cosine_matrix(z1, z2)
    for tau in (0.05, 0.5, 3.0):
        mean = np.mean([anchor_state(cos, a, tau)["loss"] for a in range(12)])
        assert mean == pytest.approx(nt_xent(z1, z2, tau).item(), rel=1e-9)


def test_temperature_limits() -> None:
    # every positive is its anchor's nearest candidate
    z1, z2 = pairs(seed=1, noise=0.01)
    cos = cosine_matrix(z1, z2)
    # uniform guess
    assert anchor_state(cos, 0, 1e3)["loss"] == pytest.approx(np.log(11), abs=1e-2)
    assert anchor_state(cos, 0, 1e-3)["loss"] < 1e-6
    assert np.isfinite(anchor_state(cos, 0, 1e-6)["loss"])  # log-softmax: no overflow


def test_update_is_deterministic() -> None:
    a, b = temperature_explorer(*pairs(3)), temperature_explorer(*pairs(3))
    a.slider.value = b.slider.value = 0.2
    assert bytes(a.image.value) == bytes(b.image.value)
    plt.close("all")


def test_static_figure_has_one_panel_per_temperature(explorer) -> None:
    fig = explorer.static_figure((0.1, 1.0, 5.0), anchor=3)
    assert len(fig.get_axes()) == 3
    assert fig.get_axes()[1].get_title().startswith("τ = 1")
    assert fig.get_axes()[0].get_xticklabels()[0].get_text() in {"0", "1", "2"}


def test_text_fallback_is_the_caption(explorer) -> None:
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == explorer.caption


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.ones((3, 4)), np.ones((3, 5))), "same shape"),
        ((np.ones((1, 4)), np.ones((1, 4))), "N >= 2"),
        ((np.zeros((3, 4)), np.ones((3, 4))), "all-zero"),
        ((np.ones(4), np.ones(4)), "z1"),
        ((np.full((3, 2), np.nan), np.ones((3, 2))), "NaN"),
    ],
)
def test_bad_batches_raise(args, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        temperature_explorer(*args)


def test_bad_labels_and_static_arguments_raise(explorer) -> None:
    with pytest.raises(ValueError, match="labels"):
        temperature_explorer(*pairs(), labels=[0, 1])
    with pytest.raises(ValueError, match="temperature"):
        explorer.static_figure((0.1, 0.0))
    with pytest.raises(ValueError, match="anchor"):
        explorer.static_figure(anchor=12)
